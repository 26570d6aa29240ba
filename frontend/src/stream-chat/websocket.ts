/**
 * The `websocket` transport: one socket per run.
 *
 *   → {message, ...body}                 start a run
 *   → {[runIdKey]: runId, lastEventId}   resume one (after a reload or a dropped socket)
 *   → {type: "stop"}                     stop()
 *   ← events (JSON, or arrays of them), each carrying the run id; then {type: "done"}
 *   ← {type: "error", code?, message}    the run failed (retryAfter?: seconds, when refused)
 *
 * The run goes on in the server when the socket drops: we reconnect (bounded
 * backoff) and resume from the last event we have, so nothing is lost or
 * doubled. Close code 4401 means the credentials were refused or expired:
 * `onAuthError` (an extension) refreshes them and we reconnect once, reading
 * `protocols` again, then resume (or re-send the message when no run id was
 * learned yet: the server refused the socket before reading it).
 */
import type { ResumableTransport } from "./background-sse";
import {
  isAbortError,
  reconnectDelay,
  resolveBody,
  resolveHeaders,
  runUrl,
  toError,
} from "./transports";
import type {
  ChatRequestError,
  ChatTransportContext,
  ChatTransportRun,
  ContentPart,
  SSEEvent,
  WebSocketTransportOptions,
} from "./types";

/** Close code our server uses for refused or expired credentials. */
export const WS_AUTH_CLOSE_CODE = 4401;

const OPEN = 1;
const CONNECTING = 0;

/** Resolve a relative socket URL against the page (http→ws, https→wss). */
export function resolveSocketUrl(url: string): string {
  if (/^wss?:/i.test(url)) return url;
  const base = globalThis.location?.href;
  if (!base) return url;
  const resolved = new URL(url, base);
  if (resolved.protocol === "http:") resolved.protocol = "ws:";
  else if (resolved.protocol === "https:") resolved.protocol = "wss:";
  return resolved.toString();
}

function defaultParse(data: unknown): unknown {
  if (typeof data !== "string") return null;
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}

function defaultEventId(event: unknown): number | null {
  const { eventId, event_id: snake } = event as { eventId?: unknown; event_id?: unknown };
  const value = eventId ?? snake;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  return null;
}

/** The error a 4401 close fails the run with (`status` 401, like an HTTP 401). */
function authError(reason: string): ChatRequestError {
  const error = new Error("Chat request failed: 401 Unauthorized") as ChatRequestError;
  error.name = "ChatRequestError";
  error.status = 401;
  error.code = "token_not_valid";
  if (reason) error.detail = reason;
  return error;
}

/** An `{type:"error"}` frame as an `Error` with its `code` (and `retryable`, when sent). */
function frameError(frame: {
  code?: unknown;
  message?: unknown;
  retryable?: unknown;
  retryAfter?: unknown;
}): Error {
  const message =
    typeof frame.message === "string" && frame.message ? frame.message : "The run failed";
  const error = new Error(message) as Error & {
    code?: string;
    retryable?: boolean;
    retryAfter?: number;
  };
  error.name = "StreamError";
  if (typeof frame.code === "string") error.code = frame.code;
  if (typeof frame.retryable === "boolean") error.retryable = frame.retryable;
  // A usage limit's refusal says when to try again (seconds, like Retry-After).
  if (typeof frame.retryAfter === "number") error.retryAfter = frame.retryAfter;
  return error;
}

export function createWebSocketTransport<TPart = ContentPart, TEvent = SSEEvent>(
  getOptions: WebSocketTransportOptions | (() => WebSocketTransportOptions),
): ResumableTransport<TPart, TEvent> {
  const read = () => (typeof getOptions === "function" ? getOptions() : getOptions);

  function cancelRun(runId: string): void {
    const options = read();
    if (!options.cancelUrl) return;
    const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    fetchImpl(runUrl(options.cancelUrl, runId), {
      method: "POST",
      headers: { ...resolveHeaders(options.cancelHeaders), "Content-Type": "application/json" },
      credentials: "same-origin",
      keepalive: true,
    }).catch(() => {});
  }

  function launch(
    context: ChatTransportContext<TPart, TEvent>,
    initial: { message: string } | { runId: string; lastEventId?: number },
  ): ChatTransportRun {
    const firstOptions = read();
    const runIdKey = firstOptions.runIdKey ?? "runId";
    // The message frame is built once, at send: a reconnect re-sends the same one.
    const messagePayload =
      "message" in initial ? { message: initial.message, ...resolveBody(firstOptions.body) } : null;
    const state = {
      runId: "runId" in initial ? initial.runId : (null as string | null),
      lastEventId: ("lastEventId" in initial ? initial.lastEventId : undefined) ?? 0,
      socket: null as WebSocket | null,
      timer: undefined as ReturnType<typeof setTimeout> | undefined,
      over: false,
      failures: 0,
      authRenewed: false,
    };

    const announce = (runId: string | null) => {
      context.setRunId(runId);
      read().onRunIdChange?.(runId);
    };

    const send = (socket: WebSocket, payload: Record<string, unknown>) => {
      const serialize = read().serializeMessage ?? JSON.stringify;
      socket.send(serialize(payload));
    };

    /** Tear down: no more callbacks from this run's sockets or timers. */
    const teardown = () => {
      state.over = true;
      clearTimeout(state.timer);
      const socket = state.socket;
      state.socket = null;
      if (socket && (socket.readyState === OPEN || socket.readyState === CONNECTING)) {
        try {
          socket.close(1000);
        } catch {
          // Already closing.
        }
      }
    };

    const end = (outcome: { error?: Error }) => {
      if (state.over) return;
      teardown();
      if (state.runId) announce(null);
      if (outcome.error) {
        if (!isAbortError(outcome.error)) context.fail(outcome.error);
      } else {
        context.finish();
      }
    };

    function onFrame(frame: unknown): void {
      if (typeof frame !== "object" || frame === null) return;
      const options = read();
      const fields = frame as Record<string, unknown>;
      const resolved = options.resolveRunId ? options.resolveRunId(frame) : fields[runIdKey];
      if ((typeof resolved === "string" && resolved) || typeof resolved === "number") {
        const runId = String(resolved);
        if (runId !== state.runId) {
          state.runId = runId;
          announce(runId);
        }
      }
      if (fields.type === "done") {
        end({});
        return;
      }
      if (fields.type === "error") {
        end({ error: frameError(fields) });
        return;
      }
      const number = (options.resolveEventId ?? defaultEventId)(frame);
      if (typeof number === "number") {
        // Already shown (a server that replays a little too much).
        if (number <= state.lastEventId) return;
        state.lastEventId = number;
      } else {
        state.lastEventId += 1;
      }
      state.failures = 0;
      state.authRenewed = false;
      context.emit(frame as TEvent);
    }

    function onClose(code: number, reason: string): void {
      if (state.over) return;
      const options = read();
      if (code === WS_AUTH_CLOSE_CODE) {
        const error = authError(reason);
        if (!options.onAuthError || state.authRenewed) {
          end({ error });
          return;
        }
        state.authRenewed = true;
        Promise.resolve()
          .then(() => options.onAuthError?.(error))
          .then(
            () => {
              if (!state.over) connect();
            },
            () => end({ error }),
          );
        return;
      }
      if (code >= 4000 && code < 5000) {
        // The server refused on purpose (origin, not found, bad frame): no retry.
        const error = new Error(
          `The chat connection was closed: ${code}${reason ? ` ${reason}` : ""}`,
        ) as Error & { code?: string };
        error.name = "StreamError";
        error.code = `ws_${code}`;
        end({ error });
        return;
      }
      if (!state.runId) {
        // No run id learned: re-sending could start a second run, and resuming is impossible.
        end({ error: new Error("The chat connection closed before the reply started") });
        return;
      }
      const attempt = state.failures + 1;
      if (attempt > (options.reconnect?.attempts ?? 5)) {
        end({ error: new Error("The chat connection was lost") });
        return;
      }
      state.failures = attempt;
      state.timer = setTimeout(
        () => {
          if (!state.over) connect();
        },
        reconnectDelay(options.reconnect, attempt),
      );
    }

    function connect(): void {
      const options = read();
      const target = typeof options.url === "function" ? options.url(state.runId) : options.url;
      const protocols =
        typeof options.protocols === "function" ? options.protocols() : options.protocols;
      const create =
        options.createWebSocket ?? ((url: string, p?: string | string[]) => new WebSocket(url, p));
      let socket: WebSocket;
      try {
        socket = create(resolveSocketUrl(target), protocols);
      } catch (error) {
        end({ error: toError(error) });
        return;
      }
      state.socket = socket;
      const current = () => !state.over && state.socket === socket;

      socket.addEventListener("open", () => {
        if (!current()) return;
        if (state.runId) {
          const payload = options.buildResumePayload
            ? options.buildResumePayload(state.runId, state.lastEventId)
            : { [runIdKey]: state.runId, lastEventId: state.lastEventId };
          send(socket, payload);
        } else if (messagePayload) {
          send(socket, messagePayload);
        }
      });
      socket.addEventListener("message", (event: MessageEvent) => {
        if (!current()) return;
        let parsed: unknown;
        try {
          parsed = (read().parseMessage ?? defaultParse)(event.data);
        } catch {
          return; // A frame we cannot read is skipped, as with SSE.
        }
        if (parsed === null || parsed === undefined) return;
        for (const frame of Array.isArray(parsed) ? parsed : [parsed]) {
          if (!current()) return;
          onFrame(frame);
        }
      });
      socket.addEventListener("close", (event: CloseEvent) => {
        if (!current()) return;
        state.socket = null;
        onClose(event.code, event.reason ?? "");
      });
    }

    connect();

    return {
      ...("runId" in initial ? { runId: initial.runId } : {}),
      stop() {
        if (state.over) return;
        const socket = state.socket;
        if (socket && socket.readyState === OPEN) {
          try {
            send(socket, { type: "stop" });
          } catch {
            // The socket is going away; the cancel POST (when configured) still goes out.
          }
        }
        const runId = state.runId;
        teardown();
        if (runId) {
          read().onRunIdChange?.(null);
          cancelRun(runId);
        }
      },
      close() {
        teardown();
      },
    };
  }

  return {
    get runId() {
      const options = read();
      return options.runId ?? options.getResumeKey?.() ?? null;
    },
    start({ message, context }) {
      return launch(context, { message });
    },
    resume({ runId, lastEventId, context }) {
      const from = lastEventId !== undefined && /^\d+$/.test(lastEventId) ? Number(lastEventId) : 0;
      return launch(context, { runId, lastEventId: from });
    },
  };
}
