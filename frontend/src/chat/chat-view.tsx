/**
 * One conversation: history, the streaming reply, the composer, and the
 * recovery paths (401 → refresh and re-send once; error banner with Retry;
 * a reply in progress resumed after a page reload).
 *
 * `ChatView` loads the history first and only then mounts `ChatSession`
 * (the `useStreamChat` part): a resumed run must stream into a message list
 * that already holds the history, or loading it would wipe the reply.
 */
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { useAuth } from "../auth/auth-provider";
import { ApiError } from "../auth/session";
import {
  type ChatRequestError,
  type ContentPart,
  type Message,
  type ServerEvent,
  useStreamChat,
} from "../stream-chat";
import { describeLimit, isLimitCode } from "../usage/limits";
import { UsageMeter } from "../usage/usage-meter";
import { getConversation } from "./api";
import { createChatEventHandler, type StreamFailure, type Usage } from "./chat-events";
import { Composer } from "./composer";
import { MessageList } from "./message-list";
import { clearRun, loadRun, type StoredRun, saveRun, turnIsSaved } from "./run-store";
import type { ChatTransportChoice } from "./transport-setting";

interface ChatViewProps {
  /** The conversation to show, or null for a new chat. */
  conversationId: string | null;
  /** A new chat learned its id from the stream. */
  onConversationCreated: (id: string, title: string) => void;
  /** A turn finished (titles and order in the sidebar may have changed). */
  onTurnFinished: () => void;
  /** The transport for new replies ("sse" by default). */
  transport?: ChatTransportChoice;
}

/** What the session starts with: the history, and the run to resume if any. */
interface Initial {
  messages: Message<ContentPart>[];
  resume: StoredRun | null;
  failed: boolean;
}

/** The user message of a turn whose reply is being resumed (not saved on the server yet). */
function pendingUserMessage(run: StoredRun): Message<ContentPart> {
  return { id: `pending-${run.runId}`, role: "user", parts: [{ type: "text", text: run.text }] };
}

/**
 * Decide whether to resume the stored run in this view: only for the same
 * conversation, and only when the server has not saved the turn already (then
 * the history shows it, and a replay would show it twice).
 */
export function planResume(
  conversationId: string | null,
  history: Message<ContentPart>[],
): Initial {
  const stored = loadRun();
  if (!stored || stored.conversationId !== conversationId) {
    return { messages: history, resume: null, failed: false };
  }
  if (turnIsSaved(history, stored)) {
    clearRun(stored.runId);
    return { messages: history, resume: null, failed: false };
  }
  return { messages: [...history, pendingUserMessage(stored)], resume: stored, failed: false };
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

/** A usage limit refused the message (HTTP 429 or a socket error frame with its code). */
function limitRefusal(error: Error): Banner | null {
  const { code, retryAfter } = error as Partial<ChatRequestError>;
  if (!isLimitCode(code)) return null;
  return { message: describeLimit(code, retryAfter), retryable: false };
}

function describeRequestError(error: Error): Banner {
  const limited = limitRefusal(error);
  if (limited) return limited;
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
  // A failure the server reported over the socket ({type:"error", code, message}).
  const { code, retryable } = error as { code?: unknown; retryable?: unknown };
  if (typeof code === "string") {
    return { message: error.message, retryable: retryable !== false };
  }
  return { message: "The connection to the server was lost.", retryable: true };
}

export function ChatView({
  conversationId,
  onConversationCreated,
  onTurnFinished,
  transport = "sse",
}: ChatViewProps) {
  const { api } = useAuth();
  // The conversation this view was opened for. Later route changes to the id
  // this view learned itself do not reload (that would clobber the stream).
  const [initialId] = useState(conversationId);
  const [initial, setInitial] = useState<Initial | "loading" | "missing">(() =>
    initialId ? "loading" : planResume(null, []),
  );

  // History of an existing conversation (not of one this view just created).
  useEffect(() => {
    if (!initialId) return;
    const abort = new AbortController();
    getConversation(api, initialId, abort.signal).then(
      (detail) => {
        if (!abort.signal.aborted) setInitial(planResume(initialId, detail.messages ?? []));
      },
      (error: unknown) => {
        if (abort.signal.aborted) return;
        if (error instanceof ApiError && error.status === 404) setInitial("missing");
        else setInitial({ messages: [], resume: null, failed: true });
      },
    );
    return () => abort.abort();
  }, [api, initialId]);

  if (initial === "missing") {
    return (
      <section className="chat-view">
        <p className="page-status" role="alert">
          This conversation does not exist or was deleted.
        </p>
      </section>
    );
  }
  if (initial === "loading") {
    return (
      <section className="chat-view" aria-label="Chat">
        <p className="page-status" role="status">
          Loading conversation…
        </p>
        <MessageList messages={[]} isLoading={false} />
        <Composer isLoading={false} disabled onSend={() => {}} onStop={() => {}} />
      </section>
    );
  }
  return (
    <ChatSession
      conversationId={initialId}
      initial={initial}
      transport={transport}
      onConversationCreated={onConversationCreated}
      onTurnFinished={onTurnFinished}
    />
  );
}

interface ChatSessionProps {
  conversationId: string | null;
  initial: Initial;
  transport: ChatTransportChoice;
  onConversationCreated: (id: string, title: string) => void;
  onTurnFinished: () => void;
}

function ChatSession({
  conversationId,
  initial,
  transport: chosenTransport,
  onConversationCreated,
  onTurnFinished,
}: ChatSessionProps) {
  const { token, refreshToken, session } = useAuth();
  const [currentId, setCurrentId] = useState<string | null>(conversationId);
  const currentIdRef = useRef(conversationId);
  const [usage, setUsage] = useState<Usage | null>(null);
  const [banner, setBanner] = useState<Banner | null>(
    initial.failed ? { message: "Could not load this conversation.", retryable: false } : null,
  );
  const [resend, setResend] = useState<{ text: string } | null>(null);
  // A refused message goes back into the composer; the meter re-reads after each turn.
  const [draft, setDraft] = useState<{ text: string } | null>(null);
  const [turnsEnded, setTurnsEnded] = useState(0);
  // The run picked up after a reload streams through the transport it started
  // on; new replies use the chosen one.
  const [resumeTransport, setResumeTransport] = useState(initial.resume?.transport ?? null);
  const transport = resumeTransport ?? chosenTransport;
  const transportRef = useRef(transport);
  // The text of the turn in flight, for Retry, the 401 re-send and the stored run.
  const lastTextRef = useRef<string>(initial.resume?.text ?? "");
  // The 401 re-send happens once per user send; a second 401 is a real failure.
  const resentRef = useRef(false);
  // The run this view is streaming (its id is kept in sessionStorage).
  const runIdRef = useRef<string | null>(initial.resume?.runId ?? null);
  const resumingRef = useRef(initial.resume !== null);
  const [resumeId] = useState(initial.resume?.runId ?? null);
  // The last token put on a request, so a 401 refreshes only when no one else has.
  const usedTokenRef = useRef<string | null>(null);
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
          const stored = loadRun();
          if (stored && stored.runId === runIdRef.current && stored.conversationId !== id) {
            saveRun({ ...stored, conversationId: id });
          }
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

  // The messages as last rendered (for the stored run's baseline).
  const messagesRef = useRef<Message<ContentPart>[]>(initial.messages);

  const transportOptions = useMemo(() => {
    // Read at every request / connection: a refreshed token is used at once.
    const authorization = () => {
      const current = session.getToken();
      usedTokenRef.current = current;
      return { Authorization: `Bearer ${current ?? ""}` };
    };
    const onAuthError = () => session.tokenAfterUnauthorized(usedTokenRef.current);
    const getResumeKey = () => resumeId;
    const onRunIdChange = (runId: string | null) => {
      if (runId) {
        runIdRef.current = runId;
        const list = messagesRef.current;
        let baseline = list.length;
        for (let i = list.length - 1; i >= 0; i -= 1) {
          if (list[i]?.role === "user") {
            baseline = i;
            break;
          }
        }
        const kind = transportRef.current;
        saveRun({
          runId,
          transport: kind === "websocket" ? "websocket" : "background-sse",
          conversationId: currentIdRef.current,
          text: lastTextRef.current,
          baseline,
        });
      } else {
        clearRun(runIdRef.current ?? undefined);
        runIdRef.current = null;
      }
    };
    return {
      backgroundSSE: {
        startApi: "/api/runs",
        eventsApi: "/api/runs/:runId/events",
        cancelApi: "/api/runs/:runId/cancel",
        startHeaders: authorization,
        eventHeaders: authorization,
        getResumeKey,
        onRunIdChange,
        onAuthError,
      },
      websocket: {
        url: "/ws/chat",
        // A fresh token at every connect (the server closes with 4401 at expiry).
        protocols: () => {
          const current = session.getToken();
          usedTokenRef.current = current;
          return ["bearer", current ?? ""];
        },
        cancelUrl: "/api/runs/:runId/cancel",
        cancelHeaders: authorization,
        getResumeKey,
        onRunIdChange,
        onAuthError,
      },
    };
  }, [resumeId, session]);

  const endResume = useCallback(() => {
    resumingRef.current = false;
    setResumeTransport(null);
  }, []);

  const chat = useStreamChat<ContentPart, ServerEvent>({
    api: "/api/chat",
    transport,
    transportOptions,
    initialMessages: initial.messages,
    // Re-read at every send: after a refresh the next send uses the new token.
    headers: { Authorization: `Bearer ${token ?? ""}` },
    body: currentId ? { conversation_id: currentId } : {},
    onEvent,
    onFinish: () => {
      setTurnsEnded((n) => n + 1);
      resentRef.current = false;
      endResume();
      finishedRef.current();
    },
    onError: (error) => {
      setTurnsEnded((n) => n + 1);
      const limited = limitRefusal(error);
      if (limited) {
        // Nothing was started: take the message back out of the list, into the composer.
        setMessages((messages) => withoutLastTurn(messages));
        setDraft({ text: lastTextRef.current });
        endResume();
        setBanner(limited);
        return;
      }
      const status = (error as Partial<ChatRequestError>).status;
      const resumed = resumingRef.current;
      endResume();
      // A failure the run itself reported (a socket error frame) reads as usual.
      const reportedByRun = !status && typeof (error as { code?: unknown }).code === "string";
      if (resumed && !reportedByRun) {
        // The run could not be picked up again (it expired, or the server
        // forgot it): drop the empty reply, keep the question for Retry.
        setMessages((messages) => {
          const last = messages[messages.length - 1];
          return last?.role === "assistant" && last.parts.length === 0
            ? messages.slice(0, -1)
            : messages;
        });
        setBanner({ message: "The reply in progress could not be resumed.", retryable: true });
        return;
      }
      // The resumable transports already refreshed and retried once (onAuthError).
      if (status === 401 && !resentRef.current && transportRef.current === "sse") {
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

  useLayoutEffect(() => {
    messagesRef.current = chat.messages;
  });

  /** Every send goes through here: the transport of this turn is the one in use now. */
  const startTurn = useCallback(
    (text: string) => {
      transportRef.current = transport;
      sendMessage(text);
    },
    [sendMessage, transport],
  );

  // The re-send after a refresh runs after the render that carries the new
  // token, so the hook reads the fresh Authorization header.
  useEffect(() => {
    if (!resend) return;
    setResend(null);
    setMessages((messages) => withoutLastTurn(messages));
    startTurn(resend.text);
  }, [resend, startTurn, setMessages]);

  const send = useCallback(
    (text: string) => {
      lastTextRef.current = text;
      resentRef.current = false;
      setBanner(null);
      setUsage(null);
      startTurn(text);
    },
    [startTurn],
  );

  const retry = useCallback(() => {
    const text = lastTextRef.current;
    if (!text) return;
    setBanner(null);
    setMessages((messages) => withoutLastTurn(messages));
    resentRef.current = false;
    startTurn(text);
  }, [startTurn, setMessages]);

  const stop = useCallback(() => {
    chat.stop();
    endResume();
  }, [chat.stop, endResume]);

  return (
    <section className="chat-view" aria-label="Chat">
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
      <Composer isLoading={chat.isLoading} onSend={send} onStop={stop} draft={draft} />
      <UsageMeter refreshKey={turnsEnded} />
    </section>
  );
}
