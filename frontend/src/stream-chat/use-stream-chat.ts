/**
 * `useStreamChat`: chat state around a transport. The public API matches
 * `@deltakit/react` 0.2.8.
 *
 * Streamed events update `messagesRef` at once (transports and `onFinish` see
 * every event) but reach React state on an animation frame, at most once per
 * `STREAM_RENDER_INTERVAL_MS`: a fast stream delivers many tokens in that
 * time, and rendering each of them is work nobody sees. Anything else (send,
 * stop, finish, `setMessages`) renders at once.
 */
import {
  type SetStateAction,
  useCallback,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
} from "react";
import { createBackgroundSSETransport } from "./background-sse";
import {
  appendPart as appendPartTo,
  appendText as appendTextTo,
  createId,
  defaultEventHandler,
  ensureAssistantMessage as ensureAssistantIn,
  startTurn,
} from "./controller";
import { createSSETransport, isAbortError, resolveBody, resolveHeaders } from "./transports";
import type {
  BackgroundSSETransportOptions,
  ChatTransport,
  ChatTransportContext,
  ChatTransportRun,
  ContentPart,
  EventHelpers,
  Message,
  SSEEvent,
  TransportName,
  TransportOptions,
  UseStreamChatOptions,
  UseStreamChatReturn,
  WebSocketTransportOptions,
} from "./types";
import { createWebSocketTransport } from "./websocket";

/**
 * A built-in transport whose config is read from the hook's latest options at
 * every use. The hook-level `headers` and `body` apply to every transport,
 * under the transport's own (`transportOptions.*` wins on a clash).
 */
function createBuiltInTransport<TPart, TEvent>(
  name: TransportName,
  current: () => UseStreamChatOptions<TPart, TEvent>,
): ChatTransport<TPart, TEvent> {
  const hookHeaders = () => resolveHeaders(current().headers);
  const hookBody = () => resolveBody(current().body);
  if (name === "background-sse") {
    return createBackgroundSSETransport<TPart, TEvent>(() => {
      const config = current().transportOptions?.backgroundSSE as BackgroundSSETransportOptions;
      return {
        ...config,
        startHeaders: () => ({ ...hookHeaders(), ...resolveHeaders(config.startHeaders) }),
        eventHeaders: () => ({ ...hookHeaders(), ...resolveHeaders(config.eventHeaders) }),
        startBody: () => ({ ...hookBody(), ...resolveBody(config.startBody) }),
      };
    });
  }
  if (name === "websocket") {
    return createWebSocketTransport<TPart, TEvent>(() => {
      const config = current().transportOptions?.websocket as WebSocketTransportOptions;
      return { ...config, body: () => ({ ...hookBody(), ...resolveBody(config.body) }) };
    });
  }
  return createSSETransport<TPart, TEvent>(() => {
    const options = current();
    const sse = options.transportOptions?.sse ?? {};
    return {
      ...sse,
      api: options.api ?? sse.api ?? "",
      headers: () => ({ ...resolveHeaders(sse.headers), ...hookHeaders() }),
      body: () => ({ ...resolveBody(sse.body), ...hookBody() }),
    };
  });
}

/**
 * The run to resume at mount, in `@deltakit/react`'s order: the resumable
 * transports' options first (whatever `transport` is, a custom one included),
 * then (our extension) a custom transport's own `runId`.
 */
function resumeKeyOf<TPart, TEvent>(
  options: TransportOptions | undefined,
  transport: ChatTransport<TPart, TEvent>,
): string | null {
  const background = options?.backgroundSSE;
  const socket = options?.websocket;
  return (
    background?.runId ||
    background?.getResumeKey?.() ||
    socket?.runId ||
    socket?.getResumeKey?.() ||
    transport.runId ||
    null
  );
}

/**
 * How often streamed events may render, at most. A render costs about the
 * same whatever it carries (React, then layout and paint of the growing
 * message), so at a fast model's rate rendering every frame is most of the
 * page's main-thread time; ten renders a second still read as streaming
 * (docs/performance.md, "Rendering", has the measurements). The first token
 * after a pause renders on the next frame.
 */
export const STREAM_RENDER_INTERVAL_MS = 100;

const now = () => globalThis.performance?.now() ?? Date.now();

/** Runs a render on an animation frame, at most once per `interval` ms. */
class RenderThrottle {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private frame: unknown = null;
  private last = Number.NEGATIVE_INFINITY;

  constructor(private readonly interval: number) {}

  get pending(): boolean {
    return this.timer !== null || this.frame !== null;
  }

  schedule(render: () => void): void {
    if (this.pending) return;
    const onFrame = () => {
      this.frame = null;
      this.last = now();
      render();
    };
    const toFrame = () => {
      this.timer = null;
      // No requestAnimationFrame outside a page (workers, some test DOMs): a frame's worth of timer.
      this.frame =
        typeof globalThis.requestAnimationFrame === "function"
          ? globalThis.requestAnimationFrame(onFrame)
          : globalThis.setTimeout(onFrame, 16);
    };
    const wait = this.last + this.interval - now();
    if (wait > 0) this.timer = globalThis.setTimeout(toFrame, wait);
    else toFrame();
  }

  /** Drop the pending render (the caller renders now, or is unmounting). */
  cancel(): void {
    if (this.timer !== null) globalThis.clearTimeout(this.timer);
    if (this.frame !== null) {
      if (typeof globalThis.cancelAnimationFrame === "function") {
        globalThis.cancelAnimationFrame(this.frame as number);
      }
      globalThis.clearTimeout(this.frame as ReturnType<typeof setTimeout>);
    }
    this.timer = null;
    this.frame = null;
  }
}

interface ActiveRun {
  /** Identity of the run: callbacks of any other (stopped, older) run are ignored. */
  token: symbol;
  /** The assistant message this run streams into. */
  assistantId: string;
  /** What the transport returned (filled right after `start`). */
  handle?: ChatTransportRun;
}

export function useStreamChat<TPart = ContentPart, TEvent = SSEEvent>(
  options: UseStreamChatOptions<TPart, TEvent>,
): UseStreamChatReturn<TPart> {
  const transportOption = options.transport ?? "sse";
  if (transportOption === "sse" && !options.api && !options.transportOptions?.sse?.api) {
    throw new Error("useStreamChat: `api` is required for the default sse transport");
  }
  if (transportOption === "background-sse") {
    const config = options.transportOptions?.backgroundSSE;
    if (!config?.startApi || !config.eventsApi) {
      throw new Error(
        "useStreamChat: the background-sse transport needs transportOptions.backgroundSSE.startApi and eventsApi",
      );
    }
  }
  if (transportOption === "websocket" && !options.transportOptions?.websocket?.url) {
    throw new Error("useStreamChat: the websocket transport needs transportOptions.websocket.url");
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

  // The pending render of streamed updates, if any.
  const throttleRef = useRef<RenderThrottle | null>(null);
  throttleRef.current ??= new RenderThrottle(STREAM_RENDER_INTERVAL_MS);
  const throttle = throttleRef.current;
  // True while `onEvent` runs: its updates wait for the next frame.
  const inEventRef = useRef(false);
  // The assistant message a resumed run streams into. Stable across
  // StrictMode's second mount, so it is reused (and emptied: the run is
  // replayed from its start) instead of leaving an empty duplicate behind.
  const resumeAssistantIdRef = useRef<string | null>(null);
  // The run id last resumed: each id is resumed once, not again at every render.
  const resumedRef = useRef<string | null>(null);
  // The user pressed stop: no resume until the next send.
  const stoppedRef = useRef(false);

  const commit = useCallback(
    (next: Message<TPart>[]) => {
      messagesRef.current = next;
      if (!mountedRef.current) return;
      if (inEventRef.current) {
        throttle.schedule(() => {
          if (mountedRef.current) setMessagesState(messagesRef.current);
        });
        return;
      }
      throttle.cancel();
      setMessagesState(next);
    },
    [throttle],
  );

  /** Render what streamed in since the last render now (the run is ending). */
  const flush = useCallback(() => {
    if (throttle.pending) commit(messagesRef.current);
  }, [commit, throttle]);

  const setMessages = useCallback(
    (action: SetStateAction<Message<TPart>[]>) => {
      commit(typeof action === "function" ? action(messagesRef.current) : action);
    },
    [commit],
  );

  // One instance per built-in transport; each reads the latest options at use.
  const transportsRef = useRef<Partial<Record<TransportName, ChatTransport<TPart, TEvent>>>>({});
  const getTransport = useCallback((): ChatTransport<TPart, TEvent> => {
    const chosen = optionsRef.current.transport ?? "sse";
    if (typeof chosen === "object") return chosen;
    const cached = transportsRef.current[chosen];
    if (cached) return cached;
    const created = createBuiltInTransport<TPart, TEvent>(chosen, () => optionsRef.current);
    transportsRef.current[chosen] = created;
    return created;
  }, []);

  const createContext = useCallback(
    (run: ActiveRun): ChatTransportContext<TPart, TEvent> => {
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
          inEventRef.current = true;
          try {
            handler(event, helpers);
          } finally {
            inEventRef.current = false;
          }
        },
        finish() {
          if (!isCurrent()) return;
          flush();
          activeRef.current = null;
          setIsLoading(false);
          setRunIdState(null);
          const assistant = messagesRef.current.find((m) => m.id === run.assistantId);
          if (assistant) optionsRef.current.onMessage?.(assistant);
          optionsRef.current.onFinish?.(messagesRef.current);
        },
        fail(failure) {
          if (!isCurrent()) return;
          flush();
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
    [commit, flush, setMessages],
  );

  /** Start (or resume) a run; a transport that throws fails the run at once. */
  const launch = useCallback(
    (
      run: ActiveRun,
      begin: (context: ChatTransportContext<TPart, TEvent>) => ChatTransportRun | undefined,
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
      stoppedRef.current = false;
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
    stoppedRef.current = true;
    flush();
    setIsLoading(false);
    setRunIdState(null);
    run.handle?.stop?.();
  }, [flush]);

  // Unmount: close the run in progress (disconnect only; a resumable run keeps
  // going on the server). StrictMode's remount then resumes it again.
  useEffect(() => {
    mountedRef.current = true;
    return () => {
      mountedRef.current = false;
      const run = activeRef.current;
      activeRef.current = null;
      resumedRef.current = null;
      throttle.cancel();
      if (run?.handle) (run.handle.close ?? run.handle.stop)?.();
    };
  }, [throttle]);

  // Read at every render, so a run id that appears later (an option that
  // changes) is resumed too; the effect below acts only when it changes.
  const resumeId = resumeKeyOf(options.transportOptions, getTransport());

  useEffect(() => {
    const transport = getTransport();
    if (!resumeId || !transport.resume) return;
    if (activeRef.current || stoppedRef.current || resumedRef.current === resumeId) return;
    resumedRef.current = resumeId;
    const resume = transport.resume;
    resumeAssistantIdRef.current ??= createId();
    const assistantId = resumeAssistantIdRef.current;
    if (messagesRef.current.some((m) => m.id === assistantId)) {
      commit(messagesRef.current.filter((m) => m.id !== assistantId));
    }
    setRunIdState(resumeId);
    launch({ token: Symbol("run"), assistantId }, (context) => {
      context.ensureAssistantMessage();
      return resume({ runId: resumeId, context });
    });
  }, [commit, getTransport, launch, resumeId]);

  return { messages, isLoading, error, runId, sendMessage, stop, setMessages };
}
