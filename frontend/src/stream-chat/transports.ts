/**
 * Network side of the chat: transports start a run and report back through the
 * `ChatTransportContext`. This file holds the `sse` transport and the helpers the
 * resumable transports share; `background-sse.ts` and `websocket.ts` plug into
 * the same `ChatTransport` interface.
 */
import { parseSSEStream } from "./sse";
import type {
  BodyInput,
  ChatRequestError,
  ChatTransport,
  ContentPart,
  DirectSSETransportOptions,
  HeadersInput,
  ReconnectPolicy,
  SSEEvent,
} from "./types";

/** Reason phrases for when a server (HTTP/2, some proxies) sends no statusText. */
const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Payload Too Large",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** True for the error an aborted fetch or stream read rejects with. */
export function isAbortError(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as { name?: unknown }).name === "AbortError"
  );
}

export function resolveHeaders(input: HeadersInput | undefined): Record<string, string> {
  if (!input) return {};
  return typeof input === "function" ? input() : input;
}

export function resolveBody(input: BodyInput | undefined): Record<string, unknown> {
  if (!input) return {};
  return typeof input === "function" ? input() : input;
}

/**
 * Build the `Error` for a non-2xx chat response:
 * `Chat request failed: <status> <statusText>`, with `status`, and `code` /
 * `detail` when the body is our JSON error shape.
 */
export async function createChatRequestError(response: Response): Promise<ChatRequestError> {
  const statusText = response.statusText || REASONS[response.status] || "";
  const error = new Error(
    `Chat request failed: ${response.status}${statusText ? ` ${statusText}` : ""}`,
  ) as ChatRequestError;
  error.name = "ChatRequestError";
  error.status = response.status;
  const retryAfter = Number(response.headers.get("Retry-After"));
  if (response.headers.has("Retry-After") && Number.isFinite(retryAfter)) {
    error.retryAfter = retryAfter;
  }
  try {
    const data = (await response.json()) as unknown;
    if (typeof data === "object" && data !== null) {
      const { code, detail } = data as { code?: unknown; detail?: unknown };
      if (typeof code === "string") error.code = code;
      if (typeof detail === "string") error.detail = detail;
    }
  } catch {
    // Not JSON (an HTML error page from a proxy): status alone must do.
  }
  return error;
}

export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** A run URL: a template with `:runId`, or a function of the run id. */
export function runUrl(template: string | ((runId: string) => string), runId: string): string {
  return typeof template === "function"
    ? template(runId)
    : template.replaceAll(":runId", encodeURIComponent(runId));
}

/** Wait `ms`, or reject with the abort reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const abortReason = () =>
      signal?.reason ?? new DOMException("The operation was aborted.", "AbortError");
    if (signal?.aborted) {
      reject(abortReason());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The delay before reconnection `attempt` (1-based), with a little jitter. */
export function reconnectDelay(policy: ReconnectPolicy | undefined, attempt: number): number {
  const base = policy?.baseDelayMs ?? 500;
  const max = policy?.maxDelayMs ?? 8000;
  const delay = Math.min(max, base * 2 ** (attempt - 1));
  return delay === 0 ? 0 : Math.round(delay * (0.8 + Math.random() * 0.4));
}

/**
 * The default transport: POST `{message, ...body}` as JSON and read the
 * `text/event-stream` answer. `getOptions` is called at every start, so the
 * headers and body are those of the moment the user sends. A 401 goes to
 * `onAuthError` (an extension) and, once it resolves, the same body is sent
 * again with the headers read anew.
 */
export function createSSETransport<TPart = ContentPart, TEvent = SSEEvent>(
  getOptions: DirectSSETransportOptions | (() => DirectSSETransportOptions),
): ChatTransport<TPart, TEvent> {
  const read = () => (typeof getOptions === "function" ? getOptions() : getOptions);
  return {
    start({ message, context }) {
      const options = read();
      if (!options.api) throw new Error("useStreamChat: the sse transport needs an `api` URL");
      const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
      const controller = new AbortController();
      const body = JSON.stringify({ message, ...resolveBody(options.body) });
      const send = (headers: Record<string, string>) =>
        fetchImpl(options.api, {
          method: options.method ?? "POST",
          headers: { ...headers, "Content-Type": "application/json" },
          body,
          signal: controller.signal,
          credentials: "same-origin",
        });

      void (async () => {
        try {
          let response = await send(resolveHeaders(options.headers));
          if (response.status === 401 && options.onAuthError) {
            const refused = await createChatRequestError(response);
            try {
              await options.onAuthError(refused);
            } catch {
              throw refused;
            }
            if (controller.signal.aborted) return;
            // The options of now: the handler has put fresh credentials in place.
            response = await send(resolveHeaders(read().headers));
          }
          if (!response.ok) throw await createChatRequestError(response);
          if (!response.body) throw new Error("Chat response has no body");
          for await (const event of parseSSEStream<TEvent>(response.body, controller.signal)) {
            context.emit(event);
          }
          if (controller.signal.aborted) return;
          context.finish();
        } catch (error) {
          // Only aborts are swallowed: they come from stop() or unmount.
          if (isAbortError(error) || controller.signal.aborted) return;
          context.fail(toError(error));
        }
      })();

      const abort = () => controller.abort();
      return { stop: abort, close: abort };
    },
  };
}
