/**
 * The `background-sse` transport: the run lives on the server, independent of
 * any connection.
 *
 *   POST startApi {message, ...startBody}     → {runId}   (context.setRunId, onRunIdChange)
 *   GET  eventsApi(runId)  [Last-Event-ID: n] → SSE with `id:` lines, ends with [DONE]
 *   POST cancelApi(runId)                     ← stop()
 *
 * The events connection may drop (sleep, network change, proxy timeout): we
 * reconnect with the last `id:` seen as `Last-Event-ID`, with bounded
 * exponential backoff, and skip any event whose numeric id we already have,
 * so nothing is shown twice. `resume({runId})` re-attaches to a run from the
 * start (or from `lastEventId`); that is how a reloaded page picks up a reply
 * in progress. `close()` (unmount) only disconnects; `stop()` also cancels.
 */
import { isDoneData, parseJSON, readSSEMessages } from "./sse";
import {
  createChatRequestError,
  isAbortError,
  reconnectDelay,
  resolveBody,
  resolveHeaders,
  runUrl,
  sleep,
  toError,
} from "./transports";
import type {
  BackgroundSSETransportOptions,
  ChatRequestError,
  ChatTransport,
  ChatTransportContext,
  ChatTransportRun,
  ContentPart,
  SSEEvent,
} from "./types";

/** A `ChatTransport` whose `runId` (the run to resume at mount) is read from its options. */
export interface ResumableTransport<TPart = ContentPart, TEvent = SSEEvent>
  extends ChatTransport<TPart, TEvent> {
  readonly runId: string | null;
}

/** `response.runId ?? response.job_id`, as strings. */
export function defaultResolveRunId(response: unknown): string | null {
  if (typeof response !== "object" || response === null) return null;
  const { runId, job_id: jobId } = response as { runId?: unknown; job_id?: unknown };
  const id = runId ?? jobId;
  return typeof id === "string" || typeof id === "number" ? String(id) : null;
}

/** True when `id` is a numeric event id at or below `last` (a replayed event). */
function isReplayed(id: string, last: string | null): boolean {
  if (last === null || !/^\d+$/.test(id) || !/^\d+$/.test(last)) return false;
  return Number(id) <= Number(last);
}

/** Statuses worth reconnecting after: the server or a proxy is having a moment. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

class StreamEndedEarly extends Error {
  constructor() {
    super("The event stream ended before the run finished");
    this.name = "StreamEndedEarly";
  }
}

export function createBackgroundSSETransport<TPart = ContentPart, TEvent = SSEEvent>(
  getOptions: BackgroundSSETransportOptions | (() => BackgroundSSETransportOptions),
): ResumableTransport<TPart, TEvent> {
  const read = () => (typeof getOptions === "function" ? getOptions() : getOptions);
  const fetchWith = (options: BackgroundSSETransportOptions) =>
    options.fetch ?? globalThis.fetch.bind(globalThis);

  /** Give `onAuthError` a chance to refresh credentials; without it (or when it rejects) `error` stands. */
  async function renewAuth(options: BackgroundSSETransportOptions, error: Error): Promise<void> {
    if (!options.onAuthError) throw error;
    try {
      await options.onAuthError(error);
    } catch {
      throw error;
    }
  }

  /** POST the message; resolve the run id. A 401 is retried once after `onAuthError`. */
  async function startRun(message: string, signal: AbortSignal): Promise<string> {
    const options = read();
    const body = JSON.stringify({ message, ...resolveBody(options.startBody) });
    const send = () =>
      fetchWith(read())(read().startApi, {
        method: options.startMethod ?? "POST",
        // Read at each attempt: the retry after a refresh carries the new token.
        headers: { ...resolveHeaders(read().startHeaders), "Content-Type": "application/json" },
        body,
        signal,
        credentials: "same-origin",
      });
    let response = await send();
    if (response.status === 401 && options.onAuthError) {
      await renewAuth(options, await createChatRequestError(response));
      response = await send();
    }
    if (!response.ok) throw await createChatRequestError(response);
    let data: unknown = null;
    try {
      data = await response.json();
    } catch {
      // No JSON: the resolver below reports the missing id.
    }
    const runId = (options.resolveRunId ?? defaultResolveRunId)(data);
    if (runId === null || runId === undefined || runId === "") {
      throw new Error("The run did not start: the response has no run id");
    }
    return String(runId);
  }

  /** Ask the server to cancel (fire and forget; cancel is idempotent there). */
  function cancelRun(runId: string): void {
    const options = read();
    if (!options.cancelApi) return;
    const url = runUrl(options.cancelApi, runId);
    const send = () =>
      fetchWith(read())(url, {
        method: "POST",
        headers: { ...resolveHeaders(read().startHeaders), "Content-Type": "application/json" },
        credentials: "same-origin",
        keepalive: true,
      });
    void (async () => {
      let response = await send();
      if (response.status === 401 && options.onAuthError) {
        await renewAuth(options, await createChatRequestError(response));
        response = await send();
      }
    })().catch(() => {});
  }

  function launch(
    context: ChatTransportContext<TPart, TEvent>,
    initial: { message: string } | { runId: string; lastEventId?: string },
  ): ChatTransportRun {
    const controller = new AbortController();
    const { signal } = controller;
    const state = {
      runId: "runId" in initial ? initial.runId : (null as string | null),
      lastEventId: ("lastEventId" in initial ? initial.lastEventId : undefined) ?? null,
      over: false,
      stopRequested: false,
    };
    const announce = (runId: string | null) => {
      context.setRunId(runId);
      read().onRunIdChange?.(runId);
    };

    /** Count a failed connection; past the policy's limit, give up with `error`. */
    async function backoff(failures: number, error: Error): Promise<number> {
      const attempt = failures + 1;
      const policy = read().reconnect;
      if (attempt > (policy?.attempts ?? 5)) throw error;
      let delay = reconnectDelay(policy, attempt);
      const retryAfter = (error as Partial<ChatRequestError>).retryAfter;
      if (retryAfter) delay = Math.max(delay, retryAfter * 1000);
      await sleep(delay, signal);
      return attempt;
    }

    /** Follow the run's events until [DONE], reconnecting when the connection drops. */
    async function follow(runId: string): Promise<void> {
      let failures = 0;
      let authRenewed = false;
      while (true) {
        const options = read();
        const headers: Record<string, string> = {
          ...resolveHeaders(options.eventHeaders),
          Accept: "text/event-stream",
        };
        if (state.lastEventId !== null) headers["Last-Event-ID"] = state.lastEventId;
        let response: Response;
        try {
          response = await fetchWith(options)(runUrl(options.eventsApi, runId), {
            headers,
            signal,
            credentials: "same-origin",
            cache: "no-store",
          });
        } catch (error) {
          if (isAbortError(error) || signal.aborted) throw error;
          failures = await backoff(failures, toError(error));
          continue;
        }
        if (!response.ok) {
          const error = await createChatRequestError(response);
          if (response.status === 401 && options.onAuthError && !authRenewed) {
            authRenewed = true;
            await renewAuth(options, error);
            continue;
          }
          if (!isRetryableStatus(response.status)) throw error;
          failures = await backoff(failures, error);
          continue;
        }
        if (!response.body) throw new Error("The run's event response has no body");
        try {
          for await (const message of readSSEMessages(response.body, signal)) {
            if (isDoneData(message.data)) return;
            if (message.id !== undefined) {
              // A server that replays a little too much must not double the reply.
              if (isReplayed(message.id, state.lastEventId)) continue;
              state.lastEventId = message.id;
            }
            failures = 0;
            authRenewed = false;
            const event = parseJSON(message.data);
            if (event !== undefined) context.emit(event as TEvent);
          }
        } catch (error) {
          if (isAbortError(error) || signal.aborted) throw error;
          failures = await backoff(failures, toError(error));
          continue;
        }
        // The body ended without [DONE]: the connection dropped mid-run.
        failures = await backoff(failures, new StreamEndedEarly());
      }
    }

    void (async () => {
      try {
        if ("message" in initial) {
          const runId = await startRun(initial.message, signal);
          state.runId = runId;
          if (state.stopRequested) {
            // stop() came while the start request was in flight.
            state.over = true;
            cancelRun(runId);
            return;
          }
          announce(runId);
        } else {
          announce(initial.runId);
        }
        await follow(state.runId as string);
        if (signal.aborted) return;
        state.over = true;
        announce(null);
        context.finish();
      } catch (error) {
        // Only aborts are swallowed: they come from stop() or close().
        if (isAbortError(error) || signal.aborted) return;
        state.over = true;
        if (state.runId) announce(null);
        context.fail(toError(error));
      }
    })();

    return {
      ...("runId" in initial ? { runId: initial.runId } : {}),
      stop() {
        if (state.over || state.stopRequested) return;
        state.stopRequested = true;
        if (!state.runId) return; // cancelled as soon as the start request answers
        state.over = true;
        controller.abort();
        read().onRunIdChange?.(null);
        cancelRun(state.runId);
      },
      close() {
        state.over = true;
        controller.abort();
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
      return launch(context, lastEventId === undefined ? { runId } : { runId, lastEventId });
    },
  };
}
