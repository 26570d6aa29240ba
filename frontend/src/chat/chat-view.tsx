/**
 * One conversation: history, the streaming reply, the composer, and the
 * recovery paths (401 → a fresh token and one retry, in every transport;
 * error banner with Retry; a reply in progress resumed after a page reload).
 *
 * `ChatView` loads the history first and only then mounts `ChatSession`
 * (the `useStreamChat` part): a resumed run must stream into a message list
 * that already holds the history, or loading it would wipe the reply.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useAuth } from "../auth/auth-provider";
import { ApiError } from "../auth/session";
import { type ContentPart, type Message, useStreamChat } from "../stream-chat";
import type { ChatRequestError, ServerEvent } from "../stream-chat/types";
import { describeLimit, isLimitCode } from "../usage/limits";
import { UsageMeter } from "../usage/usage-meter";
import { getConversation } from "./api";
import { createChatEventHandler, type StreamFailure, type Usage } from "./chat-events";
import { Composer } from "./composer";
import { MessageList } from "./message-list";
import { clearRun, loadRun, type StoredRun, turnIsSaved, withoutLiveTurn } from "./run-store";
import type { ChatTransportChoice } from "./transport-setting";
import { useStoredRun } from "./use-stored-run";

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
  // The live turn (its question, a checkpoint of its reply) is replayed by the run.
  const kept = withoutLiveTurn(history, stored);
  return { messages: [...kept, pendingUserMessage(stored)], resume: stored, failed: false };
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

function userText(message: Message<ContentPart>): string {
  return message.parts.map((part) => (part.type === "text" ? part.text : "")).join("");
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
  const { status, detail, retryAfter, code: errorCode } = error as Partial<ChatRequestError>;
  if (status === 401) {
    // onAuthError could not get a token the server accepts (a refused refresh
    // ends the session and the route guard shows the login page instead).
    return { message: "Could not renew your session. Try again.", retryable: true };
  }
  if (status === 409 && errorCode === "nothing_to_replace") {
    return { message: "There is no message to replace.", retryable: false };
  }
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

/** The turn being sent, as the transports' `body` and Retry need it. */
interface TurnState {
  /** The user's text (Retry sends it again). */
  text: string;
  /** Send `replace_last_turn`: this turn takes the place of the last one on the server. */
  replace: boolean;
  /** The server began this turn (its first event came), so it is in the stored history. */
  started: boolean;
}

function ChatSession({
  conversationId,
  initial,
  transport: chosenTransport,
  onConversationCreated,
  onTurnFinished,
}: ChatSessionProps) {
  const { session } = useAuth();
  // The conversation (a new chat learns its id from the stream), read by the
  // transports' `body` at the moment of each send.
  const currentIdRef = useRef(conversationId);
  const [usage, setUsage] = useState<Usage | null>(null);
  const [banner, setBanner] = useState<Banner | null>(
    initial.failed ? { message: "Could not load this conversation.", retryable: false } : null,
  );
  const { resumeTransport, run: storedRun } = useStoredRun(initial.resume);
  // A refused message goes back into the composer; the meter re-reads after each turn.
  const [draft, setDraft] = useState<{ text: string } | null>(null);
  const [turnsEnded, setTurnsEnded] = useState(0);
  // The run picked up after a reload streams through the transport it started
  // on; new replies use the chosen one.
  const transport = resumeTransport ?? chosenTransport;
  const turnRef = useRef<TurnState>({
    text: initial.resume?.text ?? "",
    replace: false,
    // A resumed turn is stored only once its run ends; the replay's
    // `conversation` event marks it begun (so a run found gone is re-sent, not replaced).
    started: initial.resume === null && initial.messages.some((m) => m.role === "user"),
  });
  // The token put on the last request: a 401 refreshes only if no one else has.
  const usedTokenRef = useRef<string | null>(null);
  // The parent's callbacks, current without rebuilding the event handler.
  const callbacksRef = useRef({ onConversationCreated, onTurnFinished });
  useEffect(() => {
    callbacksRef.current = { onConversationCreated, onTurnFinished };
  });

  const onEvent = useMemo(
    () =>
      createChatEventHandler({
        onConversation(id, title) {
          turnRef.current.started = true;
          storedRun.conversationLearned(id);
          if (currentIdRef.current === id) return;
          currentIdRef.current = id;
          callbacksRef.current.onConversationCreated(id, title);
        },
        onUsage: setUsage,
        onStreamError: (failure: StreamFailure) =>
          setBanner({ message: failure.message, retryable: failure.retryable }),
      }),
    [storedRun],
  );

  // The one token source and the one 401 path, for every transport: the
  // session's token, read at every request and socket connect; a 401 (or a
  // 4401 close) waits for a fresh token and the transport retries once.
  const auth = useMemo(() => {
    const token = () => {
      const current = session.getToken();
      usedTokenRef.current = current;
      return current ?? "";
    };
    return {
      headers: () => ({ Authorization: `Bearer ${token()}` }),
      protocols: () => ["bearer", token()],
      onAuthError: () => session.tokenAfterUnauthorized(usedTokenRef.current),
    };
  }, [session]);

  const transportOptions = useMemo(
    () => ({
      sse: { onAuthError: auth.onAuthError },
      backgroundSSE: {
        startApi: "/api/runs",
        eventsApi: "/api/runs/:runId/events",
        cancelApi: "/api/runs/:runId/cancel",
        getResumeKey: storedRun.getResumeKey,
        onRunIdChange: storedRun.onRunIdChange,
        onAuthError: auth.onAuthError,
      },
      websocket: {
        url: "/ws/chat",
        // The server closes with 4401 when the token expires: a fresh one at every connect.
        protocols: auth.protocols,
        cancelUrl: "/api/runs/:runId/cancel",
        cancelHeaders: auth.headers,
        getResumeKey: storedRun.getResumeKey,
        onRunIdChange: storedRun.onRunIdChange,
        onAuthError: auth.onAuthError,
      },
    }),
    [auth, storedRun],
  );

  // Read at every send, by every transport.
  const body = useCallback(
    () => ({
      ...(currentIdRef.current ? { conversation_id: currentIdRef.current } : {}),
      ...(turnRef.current.replace ? { replace_last_turn: true } : {}),
    }),
    [],
  );

  const chat = useStreamChat<ContentPart, ServerEvent>({
    api: "/api/chat",
    transport,
    transportOptions,
    initialMessages: initial.messages,
    headers: auth.headers,
    body,
    onEvent,
    onFinish: () => {
      setTurnsEnded((n) => n + 1);
      storedRun.endResume();
      callbacksRef.current.onTurnFinished();
    },
    onError: (error) => {
      setTurnsEnded((n) => n + 1);
      const limited = limitRefusal(error);
      if (limited) {
        // Nothing was started: take the message back out of the list, into the composer.
        setMessages((messages) => withoutLastTurn(messages));
        setDraft({ text: turnRef.current.text });
        storedRun.endResume();
        setBanner(limited);
        return;
      }
      const status = (error as Partial<ChatRequestError>).status;
      const resumed = storedRun.isResuming();
      storedRun.endResume();
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
      setBanner(describeRequestError(error));
    },
  });
  const { sendMessage, setMessages } = chat;

  /** Every send goes through here: records the turn, then starts the transport in use now. */
  const startTurn = useCallback(
    (text: string, replace: boolean, baseline: number) => {
      turnRef.current = { text, replace, started: false };
      storedRun.beginTurn({ text, transport, conversationId: currentIdRef.current, baseline });
      setBanner(null);
      setUsage(null);
      sendMessage(text);
    },
    [sendMessage, storedRun, transport],
  );

  const send = useCallback(
    (text: string) => startTurn(text, false, chat.messages.length),
    [chat.messages.length, startTurn],
  );

  /**
   * Send `text` in place of the last turn (Retry, Regenerate, Edit): the
   * client drops it first; the server replaces it only if it stored it.
   */
  const replaceLastTurn = useCallback(
    (text: string) => {
      const kept = withoutLastTurn(chat.messages);
      const replace = turnRef.current.started && currentIdRef.current !== null;
      setMessages(kept);
      startTurn(text, replace, kept.length);
    },
    [chat.messages, setMessages, startTurn],
  );

  const retry = useCallback(() => {
    if (turnRef.current.text) replaceLastTurn(turnRef.current.text);
  }, [replaceLastTurn]);

  const regenerate = useCallback(() => {
    const kept = withoutLastTurn(chat.messages);
    const question = chat.messages[kept.length];
    const text = question ? userText(question) : "";
    if (text) replaceLastTurn(text);
  }, [chat.messages, replaceLastTurn]);

  const stop = useCallback(() => {
    chat.stop();
    storedRun.endResume();
  }, [chat.stop, storedRun]);

  return (
    <section className="chat-view" aria-label="Chat">
      <MessageList
        messages={chat.messages}
        isLoading={chat.isLoading}
        onRegenerate={regenerate}
        onEdit={replaceLastTurn}
        onExample={send}
      />
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
