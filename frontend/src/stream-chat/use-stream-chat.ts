/**
 * `useStreamChat`: chat state around a transport. The public API matches
 * `@deltakit/react` 0.2 (shared/stream-chat-api.md).
 */
import {
  type SetStateAction,
  useCallback,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
} from "react";
import {
  appendPart as appendPartTo,
  appendText as appendTextTo,
  createId,
  defaultEventHandler,
  ensureAssistantMessage as ensureAssistantIn,
  startTurn,
} from "./controller";
import { createSSETransport, isAbortError } from "./transports";
import type {
  ChatTransport,
  ContentPart,
  EventHelpers,
  Message,
  SSEEvent,
  TransportContext,
  TransportRun,
  UseStreamChatOptions,
  UseStreamChatReturn,
} from "./types";

interface ActiveRun {
  /** Identity of the run: callbacks of any other (stopped, older) run are ignored. */
  token: symbol;
  /** The assistant message this run streams into. */
  assistantId: string;
  /** What the transport returned (filled right after `start`). */
  handle?: TransportRun;
}

export function useStreamChat<TPart = ContentPart, TEvent = SSEEvent>(
  options: UseStreamChatOptions<TPart, TEvent>,
): UseStreamChatReturn<TPart> {
  const transportOption = options.transport ?? "sse";
  if (transportOption === "sse" && !options.api && !options.transportOptions?.sse?.api) {
    throw new Error("useStreamChat: `api` is required for the default sse transport");
  }
  if (transportOption === "background-sse" || transportOption === "websocket") {
    throw new Error(`useStreamChat: the "${transportOption}" transport is not available yet`);
  }

  const [messages, setMessagesState] = useState<Message<TPart>[]>(
    () => options.initialMessages ?? [],
  );
  const [isLoading, setIsLoading] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [runId, setRunIdState] = useState<string | null>(null);

  // Latest options, so callbacks, headers and body are read when used (a
  // refreshed token is used at the next send) without re-creating callbacks.
  const optionsRef = useRef(options);
  useLayoutEffect(() => {
    optionsRef.current = options;
  });

  // The source of truth for messages between renders: transports emit many
  // events per frame, and getMessages()/onFinish must see every one of them
  // before React re-renders.
  const messagesRef = useRef(messages);
  // The run in progress; also the "ignore while loading" guard, which must hold
  // for two sends in the same tick, before isLoading has re-rendered.
  const activeRef = useRef<ActiveRun | null>(null);
  // After unmount no callback may touch state (a late event from the network).
  const mountedRef = useRef(true);

  const commit = useCallback((next: Message<TPart>[]) => {
    messagesRef.current = next;
    if (mountedRef.current) setMessagesState(next);
  }, []);

  const setMessages = useCallback(
    (action: SetStateAction<Message<TPart>[]>) => {
      commit(typeof action === "function" ? action(messagesRef.current) : action);
    },
    [commit],
  );

  const transportRef = useRef<ChatTransport<TPart, TEvent> | null>(null);
  const getTransport = useCallback((): ChatTransport<TPart, TEvent> => {
    const chosen = optionsRef.current.transport ?? "sse";
    if (typeof chosen === "object") return chosen;
    if (!transportRef.current) {
      transportRef.current = createSSETransport<TPart, TEvent>(() => {
        const current = optionsRef.current;
        const sse = current.transportOptions?.sse ?? {};
        const sseHeaders = sse.headers;
        const sseBody = sse.body;
        return {
          ...sse,
          api: current.api ?? sse.api ?? "",
          headers: () => ({
            ...(typeof sseHeaders === "function" ? sseHeaders() : sseHeaders),
            ...(typeof current.headers === "function" ? current.headers() : current.headers),
          }),
          body: () => ({
            ...(typeof sseBody === "function" ? sseBody() : sseBody),
            ...(typeof current.body === "function" ? current.body() : current.body),
          }),
        };
      });
    }
    return transportRef.current;
  }, []);

  const createContext = useCallback(
    (run: ActiveRun): TransportContext<TPart, TEvent> => {
      const isCurrent = () => mountedRef.current && activeRef.current?.token === run.token;
      const helpers: EventHelpers<TPart> = {
        appendText: (delta) => commit(appendTextTo(messagesRef.current, run.assistantId, delta)),
        appendPart: (part) => commit(appendPartTo(messagesRef.current, run.assistantId, part)),
        setMessages,
      };
      return {
        emit(event) {
          if (!isCurrent()) return;
          const handler = optionsRef.current.onEvent ?? defaultEventHandler<TPart, TEvent>;
          handler(event, helpers);
        },
        finish() {
          if (!isCurrent()) return;
          activeRef.current = null;
          setIsLoading(false);
          setRunIdState(null);
          const assistant = messagesRef.current.find((m) => m.id === run.assistantId);
          if (assistant) optionsRef.current.onMessage?.(assistant);
          optionsRef.current.onFinish?.(messagesRef.current);
        },
        fail(failure) {
          if (!isCurrent()) return;
          activeRef.current = null;
          setIsLoading(false);
          if (isAbortError(failure)) return;
          setError(failure);
          optionsRef.current.onError?.(failure);
        },
        ensureAssistantMessage() {
          if (!isCurrent()) return;
          commit(ensureAssistantIn(messagesRef.current, run.assistantId));
        },
        getMessages: () => messagesRef.current,
        setRunId(id) {
          if (!isCurrent()) return;
          setRunIdState(id);
        },
      };
    },
    [commit, setMessages],
  );

  /** Start (or resume) a run; a transport that throws fails the run at once. */
  const launch = useCallback(
    (
      run: ActiveRun,
      begin: (context: TransportContext<TPart, TEvent>) => TransportRun | undefined,
    ) => {
      const context = createContext(run);
      activeRef.current = run;
      setIsLoading(true);
      try {
        const handle = begin(context);
        if (handle) {
          run.handle = handle;
          if (handle.runId && activeRef.current === run) setRunIdState(handle.runId);
        }
      } catch (thrown) {
        context.fail(thrown instanceof Error ? thrown : new Error(String(thrown)));
      }
    },
    [createContext],
  );

  const sendMessage = useCallback(
    (text: string) => {
      if (activeRef.current) return;
      const ids = { user: createId(), assistant: createId() };
      setError(null);
      commit(startTurn(messagesRef.current, text, ids));
      const userMessage = messagesRef.current.find((m) => m.id === ids.user);
      if (userMessage) optionsRef.current.onMessage?.(userMessage);
      const transport = getTransport();
      launch({ token: Symbol("run"), assistantId: ids.assistant }, (context) =>
        transport.start({ message: text, context }),
      );
    },
    [commit, getTransport, launch],
  );

  const stop = useCallback(() => {
    const run = activeRef.current;
    if (!run) return;
    // Clear first: whatever the transport reports after this is ignored, so an
    // abort can never reach onError.
    activeRef.current = null;
    setIsLoading(false);
    setRunIdState(null);
    run.handle?.stop?.();
  }, []);

  // Mount: reattach to a resumable run. Unmount: close the run in progress
  // (disconnect only; a resumable run keeps going on the server).
  useEffect(() => {
    mountedRef.current = true;
    const transport = getTransport();
    if (transport.resume && transport.runId && !activeRef.current) {
      const resumeId = transport.runId;
      const resume = transport.resume;
      setRunIdState(resumeId);
      launch({ token: Symbol("run"), assistantId: createId() }, (context) => {
        context.ensureAssistantMessage();
        return resume({ runId: resumeId, context });
      });
    }
    return () => {
      mountedRef.current = false;
      const run = activeRef.current;
      activeRef.current = null;
      if (run?.handle) (run.handle.close ?? run.handle.stop)?.();
    };
  }, [getTransport, launch]);

  return { messages, isLoading, error, runId, sendMessage, stop, setMessages };
}
