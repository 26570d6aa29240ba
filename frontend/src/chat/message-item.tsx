import { type FormEvent, type KeyboardEvent, memo, useState } from "react";
import type { ContentPart, Message, ToolCallPart } from "../stream-chat";
import { CopyButton } from "./copy-button";
import { Markdown } from "./markdown";

/** What the last messages offer (absent: the message shows Copy only). */
export interface MessageActions {
  /** On the last reply: generate it again (replaces it). */
  onRegenerate?: () => void;
  /** On the last user message: send an edited text instead (replaces the turn). */
  onEdit?: (text: string) => void;
}

/** The message's text (reply text and the user's words), for Copy. */
function plainText(message: Message<ContentPart>): string {
  return message.parts
    .filter((part) => part.type === "text")
    .map((part) => part.text)
    .join("\n\n");
}

function EditForm({
  initial,
  onSend,
  onCancel,
}: {
  initial: string;
  onSend: (text: string) => void;
  onCancel: () => void;
}) {
  const [text, setText] = useState(initial);
  function submit(event?: FormEvent) {
    event?.preventDefault();
    const trimmed = text.trim();
    if (trimmed) onSend(trimmed);
  }
  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Escape") {
      event.preventDefault();
      onCancel();
    } else if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      submit(event);
    }
  }
  return (
    <form className="edit-form" onSubmit={submit}>
      <textarea
        aria-label="Edit your message"
        value={text}
        rows={3}
        // biome-ignore lint/a11y/noAutofocus: the user just asked to edit this text
        autoFocus
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="message-actions">
        <button type="submit" className="primary" disabled={!text.trim()}>
          Save and send
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function pretty(text: string | undefined): string {
  if (text === undefined) return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function ToolCard({ part, streaming }: { part: ToolCallPart; streaming: boolean }) {
  return (
    <section className="tool-card" aria-label={`Tool call: ${part.tool_name}`}>
      <header>
        <span className="tool-icon" aria-hidden="true">
          ⚙
        </span>{" "}
        <strong>{part.tool_name}</strong>
      </header>
      <h3 className="tool-label">Arguments</h3>
      <pre className="tool-args">{pretty(part.argument) || "(none)"}</pre>
      <h3 className="tool-label">Result</h3>
      {part.result !== undefined ? (
        <pre className="tool-result">{pretty(part.result)}</pre>
      ) : (
        <p className="tool-pending">{streaming ? "Running…" : "No result"}</p>
      )}
    </section>
  );
}

/**
 * One message. Memoised: while a reply streams only that message gets new
 * props (the controller keeps every other message object as it was).
 */
export const MessageItem = memo(function MessageItem({
  message,
  streaming,
  actions,
}: {
  message: Message<ContentPart>;
  /** This is the assistant message being streamed right now. */
  streaming: boolean;
  actions?: MessageActions;
}) {
  const isUser = message.role === "user";
  const empty = message.parts.length === 0;
  const [editing, setEditing] = useState(false);
  const text = plainText(message);
  if (editing && actions?.onEdit) {
    const onEdit = actions.onEdit;
    return (
      <div className="message-row user">
        <EditForm
          initial={text}
          onCancel={() => setEditing(false)}
          onSend={(edited) => {
            setEditing(false);
            onEdit(edited);
          }}
        />
      </div>
    );
  }
  // The actions sit beside the article, not in it: the article's text is the message's.
  return (
    <div className={`message-row ${message.role}`}>
      <article
        className={`message ${message.role}${streaming ? " streaming" : ""}`}
        aria-label={isUser ? "Your message" : "Assistant message"}
      >
        {message.parts.map((part, index) => {
          const key = `${message.id}-${index}`;
          switch (part.type) {
            case "text":
              return isUser ? (
                <p key={key} className="user-text">
                  {part.text}
                </p>
              ) : (
                <Markdown
                  key={key}
                  text={part.text}
                  streaming={streaming && index === message.parts.length - 1}
                />
              );
            case "reasoning":
              return (
                <details key={key} className="reasoning">
                  <summary>Reasoning</summary>
                  <p>{part.text}</p>
                </details>
              );
            case "tool_call":
              return <ToolCard key={key} part={part} streaming={streaming} />;
            default:
              return null;
          }
        })}
        {streaming && empty && (
          <p className="typing" aria-hidden="true">
            <span />
            <span />
            <span />
          </p>
        )}
      </article>
      {!streaming && !empty && (
        <div className="message-actions">
          {text && <CopyButton text={text} label={isUser ? "Copy your message" : "Copy reply"} />}
          {actions?.onEdit && (
            <button type="button" className="icon-button" onClick={() => setEditing(true)}>
              Edit
            </button>
          )}
          {actions?.onRegenerate && (
            <button type="button" className="icon-button" onClick={actions.onRegenerate}>
              Regenerate
            </button>
          )}
        </div>
      )}
    </div>
  );
});
