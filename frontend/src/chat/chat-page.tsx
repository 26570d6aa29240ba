/**
 * The chat screen: the conversation sidebar beside one ChatView.
 *
 * The ChatView is keyed by conversation so switching conversations starts
 * clean, with one exception: when a new chat learns its id from the stream we
 * move the URL to /c/<id> but keep the same view (same key), so the reply in
 * progress is not thrown away.
 */
import { useCallback, useEffect, useId, useState } from "react";
import { useLocation, useNavigate, useParams, useSearchParams } from "react-router";
import { useAuth } from "../auth/auth-provider";
import {
  type ConversationSummary,
  deleteConversation,
  listConversations,
  renameConversation,
} from "./api";
import { ChatView } from "./chat-view";
import { ConversationSidebar } from "./conversation-sidebar";
import { isTransportChoice, useTransportChoice } from "./transport-setting";

export function ChatPage() {
  const { id: routeId } = useParams();
  const location = useLocation();
  const navigate = useNavigate();
  const { api } = useAuth();
  const sidebarId = useId();
  const [transport, setTransport] = useTransportChoice();
  // `?transport=websocket` (or sse, background-sse) picks the transport, as the
  // settings page does, and is then dropped from the URL.
  const [search, setSearch] = useSearchParams();
  const requested = search.get("transport");
  useEffect(() => {
    if (requested === null) return;
    if (isTransportChoice(requested)) setTransport(requested);
    setSearch(
      (params) => {
        params.delete("transport");
        return params;
      },
      { replace: true },
    );
  }, [requested, setSearch, setTransport]);

  const [conversations, setConversations] = useState<ConversationSummary[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [sidebarOpen, setSidebarOpen] = useState(false);
  // The id a new chat learned, and the key of the view that learned it.
  const [adopted, setAdopted] = useState<{ id: string; key: string } | null>(null);

  const newChatKey = `new-${location.key}`;
  const viewKey = routeId && adopted?.id === routeId ? adopted.key : (routeId ?? newChatKey);

  const reload = useCallback(async () => {
    try {
      const page = await listConversations(api);
      setConversations(page.results);
      setNext(page.next);
      setError(null);
    } catch {
      setError("Could not load your conversations.");
    } finally {
      setLoading(false);
    }
  }, [api]);

  useEffect(() => {
    void reload();
  }, [reload]);

  const loadMore = useCallback(async () => {
    if (!next) return;
    setLoading(true);
    try {
      const page = await listConversations(api, next);
      setConversations((prev) => [
        ...prev,
        ...page.results.filter((c) => !prev.some((p) => p.id === c.id)),
      ]);
      setNext(page.next);
    } catch {
      setError("Could not load more conversations.");
    } finally {
      setLoading(false);
    }
  }, [api, next]);

  const onConversationCreated = useCallback(
    (id: string, title: string) => {
      setAdopted({ id, key: viewKey });
      const now = new Date().toISOString();
      setConversations((prev) => [
        { id, title, created_at: now, updated_at: now },
        ...prev.filter((c) => c.id !== id),
      ]);
      navigate(`/c/${id}`, { replace: routeId === undefined });
    },
    [navigate, routeId, viewKey],
  );

  const onRename = useCallback(
    async (id: string, title: string) => {
      const updated = await renameConversation(api, id, title);
      setConversations((prev) =>
        prev.map((c) => (c.id === id ? { ...c, title: updated?.title ?? title } : c)),
      );
    },
    [api],
  );

  const onDelete = useCallback(
    async (id: string) => {
      await deleteConversation(api, id);
      setConversations((prev) => prev.filter((c) => c.id !== id));
      if (routeId === id) navigate("/", { replace: true });
    },
    [api, navigate, routeId],
  );

  const currentTitle = conversations.find((c) => c.id === routeId)?.title;

  return (
    <main id="main" className="chat-page">
      <div className="chat-toolbar">
        <button
          type="button"
          className="sidebar-toggle"
          aria-expanded={sidebarOpen}
          aria-controls={sidebarId}
          onClick={() => setSidebarOpen((open) => !open)}
        >
          ☰ Conversations
        </button>
        <h1 className="chat-title">{routeId ? currentTitle || "Chat" : "New chat"}</h1>
      </div>
      <div className="chat-layout">
        <ConversationSidebar
          id={sidebarId}
          open={sidebarOpen}
          conversations={conversations}
          loading={loading}
          error={error}
          hasMore={Boolean(next)}
          onLoadMore={loadMore}
          onNewChat={() => {
            setSidebarOpen(false);
            navigate("/");
          }}
          onRename={onRename}
          onDelete={onDelete}
          onNavigate={() => setSidebarOpen(false)}
        />
        <ChatView
          key={viewKey}
          conversationId={routeId ?? null}
          onConversationCreated={onConversationCreated}
          onTurnFinished={() => void reload()}
          transport={transport}
        />
      </div>
    </main>
  );
}
