/**
 * One conversation: history, the streaming reply, the composer, and the
 * recovery paths (401 → refresh and re-send once; error banner with Retry).
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useAuth } from "../auth/auth-provider";
import { ApiError } from "../auth/session";
import {
  type ChatRequestError,
  type ContentPart,
  type Message,
  type ServerEvent,
  useStreamChat,
} from "../stream-chat";
import { getConversation } from "./api";
import { createChatEventHandler, type StreamFailure, type Usage } from "./chat-events";
import { Composer } from "./composer";
import { MessageList } from "./message-list";

interface ChatViewProps {
  /** The conversation to show, or null for a new chat. */
  conversationId: string | null;
  /** A new chat learned its id from the stream. */
  onConversationCreated: (id: string, title: string) => void;
  /** A turn finished (titles and order in the sidebar may have changed). */
  onTurnFinished: () => void;
}

interface Banner {
  message: string;
  retryable: boolean;
}

/** Drop the last user message and everything after it (the failed turn). */
function withoutLastTurn(messages: Message<ContentPart>[]): Message<ContentPart>[] {
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    if (messages[i]?.role === "user") return messages.slice(0, i);
  }
  return messages;
}

function describeRequestError(error: Error): Banner {
  const { status, detail, retryAfter } = error as Partial<ChatRequestError>;
  if (status === 409) {
    return { message: "A reply is already being generated in this conversation.", retryable: true };
  }
  if (status === 429) {
    const wait = retryAfter ? ` Try again in ${retryAfter} s.` : "";
    return { message: `Too many requests.${wait}`, retryable: true };
  }
  if (status === 404) return { message: "This conversation no longer exists.", retryable: false };
  if (status && status >= 400 && status < 500) {
    return { message: detail ?? error.message, retryable: false };
  }
  if (status) return { message: detail ?? error.message, retryable: true };
  return { message: "The connection to the server was lost.", retryable: true };
}

export function ChatView({ conversationId, onConversationCreated, onTurnFinished }: ChatViewProps) {
  const { token, refreshToken, api } = useAuth();
  // The conversation this view was opened for. Later route changes to the id
  // this view learned itself do not reload (that would clobber the stream).
  const [initialId] = useState(conversationId);
  const [currentId, setCurrentId] = useState<string | null>(conversationId);
  const currentIdRef = useRef(conversationId);
  const [history, setHistory] = useState<"idle" | "loading" | "missing" | "failed">(
    conversationId ? "loading" : "idle",
  );
  const [usage, setUsage] = useState<Usage | null>(null);
  const [banner, setBanner] = useState<Banner | null>(null);
  const [resend, setResend] = useState<{ text: string } | null>(null);
  // The text of the turn in flight, for Retry and the 401 re-send.
  const lastTextRef = useRef<string>("");
  // The 401 re-send happens once per user send; a second 401 is a real failure.
  const resentRef = useRef(false);
  // Callbacks the event handler reaches through, kept current without
  // rebuilding the handler (and so the hook's options) on every render.
  const createdRef = useRef(onConversationCreated);
  const finishedRef = useRef(onTurnFinished);
  useEffect(() => {
    createdRef.current = onConversationCreated;
    finishedRef.current = onTurnFinished;
  });

  const onEvent = useMemo(
    () =>
      createChatEventHandler({
        onConversation(id, title) {
          if (currentIdRef.current === id) return;
          currentIdRef.current = id;
          setCurrentId(id);
          createdRef.current(id, title);
        },
        onUsage: setUsage,
        onStreamError: (failure: StreamFailure) =>
          setBanner({ message: failure.message, retryable: failure.retryable }),
      }),
    [],
  );

  const chat = useStreamChat<ContentPart, ServerEvent>({
    api: "/api/chat",
    // Re-read at every send: after a refresh the next send uses the new token.
    headers: { Authorization: `Bearer ${token ?? ""}` },
    body: currentId ? { conversation_id: currentId } : {},
    onEvent,
    onFinish: () => {
      resentRef.current = false;
      finishedRef.current();
    },
    onError: (error) => {
      const status = (error as Partial<ChatRequestError>).status;
      if (status === 401 && !resentRef.current) {
        resentRef.current = true;
        const text = lastTextRef.current;
        refreshToken().then(
          () => setResend({ text }),
          () => {
            // Refused: the session has ended and the route guard goes to the
            // login page with the explanation. Network trouble: say so here.
            setBanner({ message: "Could not renew your session. Try again.", retryable: true });
          },
        );
        return;
      }
      setBanner(describeRequestError(error));
    },
  });
  const { sendMessage, setMessages } = chat;

  // The re-send after a refresh runs after the render that carries the new
  // token, so the hook reads the fresh Authorization header.
  useEffect(() => {
    if (!resend) return;
    setResend(null);
    setMessages((messages) => withoutLastTurn(messages));
    sendMessage(resend.text);
  }, [resend, sendMessage, setMessages]);

  // History of an existing conversation (not of one this view just created).
  useEffect(() => {
    if (!initialId) return;
    const abort = new AbortController();
    setHistory("loading");
    getConversation(api, initialId, abort.signal).then(
      (detail) => {
        setMessages(detail.messages ?? []);
        setHistory("idle");
      },
      (error: unknown) => {
        if (abort.signal.aborted) return;
        setHistory(error instanceof ApiError && error.status === 404 ? "missing" : "failed");
      },
    );
    return () => abort.abort();
  }, [api, initialId, setMessages]);

  const send = useCallback(
    (text: string) => {
      lastTextRef.current = text;
      resentRef.current = false;
      setBanner(null);
      setUsage(null);
      sendMessage(text);
    },
    [sendMessage],
  );

  const retry = useCallback(() => {
    const text = lastTextRef.current;
    if (!text) return;
    setBanner(null);
    setMessages((messages) => withoutLastTurn(messages));
    resentRef.current = false;
    sendMessage(text);
  }, [sendMessage, setMessages]);

  if (history === "missing") {
    return (
      <section className="chat-view">
        <p className="page-status" role="alert">
          This conversation does not exist or was deleted.
        </p>
      </section>
    );
  }

  return (
    <section className="chat-view" aria-label="Chat">
      {history === "loading" && (
        <p className="page-status" role="status">
          Loading conversation…
        </p>
      )}
      {history === "failed" && (
        <p className="banner error" role="alert">
          Could not load this conversation.
        </p>
      )}
      <MessageList messages={chat.messages} isLoading={chat.isLoading} />
      {banner && (
        <div className="banner error" role="alert">
          <span>{banner.message}</span>
          {banner.retryable && !chat.isLoading && (
            <button type="button" onClick={retry}>
              Retry
            </button>
          )}
          <button type="button" className="link" onClick={() => setBanner(null)}>
            Dismiss
          </button>
        </div>
      )}
      <div className="chat-status" role="status">
        {chat.isLoading
          ? "Generating a reply…"
          : usage
            ? `Tokens: ${usage.input_tokens} in, ${usage.output_tokens} out`
            : ""}
      </div>
      <Composer
        isLoading={chat.isLoading}
        disabled={history === "loading"}
        onSend={send}
        onStop={chat.stop}
      />
    </section>
  );
}
