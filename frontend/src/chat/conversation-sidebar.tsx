import { type FormEvent, useState } from "react";
import { NavLink } from "react-router";
import { ConfirmDialog } from "../components/confirm-dialog";
import type { ConversationSummary } from "./api";

interface SidebarProps {
  id: string;
  open: boolean;
  conversations: ConversationSummary[];
  loading: boolean;
  error: string | null;
  hasMore: boolean;
  onLoadMore: () => void;
  onNewChat: () => void;
  onRename: (id: string, title: string) => Promise<void>;
  onDelete: (id: string) => Promise<void>;
  onNavigate: () => void;
}

const titleOf = (c: ConversationSummary) => c.title || "Untitled chat";

function RenameForm({
  conversation,
  onSave,
  onCancel,
}: {
  conversation: ConversationSummary;
  onSave: (title: string) => Promise<void>;
  onCancel: () => void;
}) {
  const [title, setTitle] = useState(conversation.title);
  const [busy, setBusy] = useState(false);
  const inputId = `rename-${conversation.id}`;

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    const trimmed = title.trim();
    if (!trimmed) return;
    setBusy(true);
    try {
      await onSave(trimmed);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="rename-form" onSubmit={onSubmit}>
      <label htmlFor={inputId} className="visually-hidden">
        New title
      </label>
      <input
        id={inputId}
        value={title}
        maxLength={200}
        // biome-ignore lint/a11y/noAutofocus: the user just asked to edit this title
        autoFocus
        onChange={(e) => setTitle(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") onCancel();
        }}
      />
      <button type="submit" disabled={busy || !title.trim()}>
        Save
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </form>
  );
}

export function ConversationSidebar(props: SidebarProps) {
  const [renaming, setRenaming] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<ConversationSummary | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  return (
    <aside
      id={props.id}
      className={`sidebar${props.open ? " open" : ""}`}
      aria-label="Conversations"
    >
      <button type="button" className="primary new-chat" onClick={props.onNewChat}>
        + New chat
      </button>
      {props.error && (
        <p className="form-error" role="alert">
          {props.error}
        </p>
      )}
      {actionError && (
        <p className="form-error" role="alert">
          {actionError}
        </p>
      )}
      <nav aria-label="Conversation history">
        <ul className="conversation-list">
          {props.conversations.map((c) => (
            <li key={c.id}>
              {renaming === c.id ? (
                <RenameForm
                  conversation={c}
                  onCancel={() => setRenaming(null)}
                  onSave={async (title) => {
                    try {
                      await props.onRename(c.id, title);
                      setActionError(null);
                      setRenaming(null);
                    } catch {
                      setActionError("Could not rename the conversation.");
                    }
                  }}
                />
              ) : (
                <div className="conversation-row">
                  <NavLink
                    to={`/c/${c.id}`}
                    className="conversation-link"
                    onClick={props.onNavigate}
                  >
                    {titleOf(c)}
                  </NavLink>
                  <button
                    type="button"
                    className="icon"
                    aria-label={`Rename ${titleOf(c)}`}
                    title="Rename"
                    onClick={() => setRenaming(c.id)}
                  >
                    ✎
                  </button>
                  <button
                    type="button"
                    className="icon"
                    aria-label={`Delete ${titleOf(c)}`}
                    title="Delete"
                    onClick={() => setDeleting(c)}
                  >
                    ✕
                  </button>
                </div>
              )}
            </li>
          ))}
        </ul>
        {!props.loading && props.conversations.length === 0 && !props.error && (
          <p className="muted">No conversations yet.</p>
        )}
        {props.loading && (
          <p className="muted" role="status">
            Loading…
          </p>
        )}
        {props.hasMore && !props.loading && (
          <button type="button" className="link" onClick={props.onLoadMore}>
            Load more
          </button>
        )}
      </nav>
      {deleting && (
        <ConfirmDialog
          title="Delete this conversation?"
          confirmLabel="Delete"
          onCancel={() => setDeleting(null)}
          onConfirm={async () => {
            const target = deleting;
            setDeleting(null);
            try {
              await props.onDelete(target.id);
              setActionError(null);
            } catch {
              setActionError("Could not delete the conversation.");
            }
          }}
        >
          <p>“{titleOf(deleting)}” and all its messages will be deleted. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </aside>
  );
}
