/**
 * Server-Sent Events parser for the chat stream.
 *
 * Follows the EventSource line rules (LF, CRLF or CR line ends; `:` comments;
 * consecutive `data:` lines joined with "\n"; a blank line dispatches) and the
 * `@deltakit/react` wire convention: each event's data is JSON and the stream
 * ends at `data: [DONE]`.
 *
 * `readSSEMessages` is the low-level reader (raw data plus the `id:` field,
 * which the resumable transports need for `Last-Event-ID`);
 * `parseSSEStream` is the public API on top of it (JSON events only); only
 * the latter is exported from `index.ts`.
 */

const DONE = "[DONE]";

/** One dispatched SSE message. */
export interface SSEMessage {
  /** The data lines, joined with "\n" (not parsed). */
  data: string;
  /** The `id:` field of this message, when it had one (ids containing NUL are ignored, as in EventSource). */
  id?: string;
  /** The `event:` field, when present. */
  event?: string;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/**
 * Yield every message of an SSE body (those with at least one `data:` line),
 * including a `[DONE]` one, until the end of the body. The consumer decides
 * when to stop; breaking out of the loop cancels the body. Aborting `signal`
 * cancels the body and rejects with its reason.
 */
export async function* readSSEMessages(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<SSEMessage, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  // Cancelling the reader makes a pending read() settle, so an abort never
  // leaves us waiting on a silent connection.
  const onAbort = () => {
    reader.cancel(signal ? abortError(signal) : undefined).catch(() => {});
  };
  signal?.addEventListener("abort", onAbort);

  let buffer = "";
  let dataLines: string[] = [];
  let id: string | undefined;
  let eventName: string | undefined;
  let ended = false;

  try {
    if (signal?.aborted) throw abortError(signal);
    while (true) {
      const { done, value } = await reader.read();
      if (signal?.aborted) throw abortError(signal);
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });

      let start = 0;
      while (start < buffer.length) {
        const lf = buffer.indexOf("\n", start);
        const cr = buffer.indexOf("\r", start);
        let end: number;
        if (cr !== -1 && (lf === -1 || cr < lf)) end = cr;
        else if (lf !== -1) end = lf;
        else break;
        // A CR at the very end of the buffer may be the first half of a CRLF
        // split across chunks: wait for the next chunk before deciding.
        if (end === cr && end === buffer.length - 1 && !done) break;

        const line = buffer.slice(start, end);
        start = end + (end === cr && buffer[end + 1] === "\n" ? 2 : 1);

        if (line === "") {
          if (dataLines.length > 0) {
            const message: SSEMessage = { data: dataLines.join("\n") };
            if (id !== undefined) message.id = id;
            if (eventName !== undefined) message.event = eventName;
            dataLines = [];
            id = undefined;
            eventName = undefined;
            // Keep what is left of the buffer: the consumer may come back for more.
            buffer = buffer.slice(start);
            start = 0;
            yield message;
          } else {
            id = undefined;
            eventName = undefined;
          }
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let fieldValue = colon === -1 ? "" : line.slice(colon + 1);
        if (fieldValue.startsWith(" ")) fieldValue = fieldValue.slice(1);
        if (field === "data") dataLines.push(fieldValue);
        else if (field === "id" && !fieldValue.includes("\0")) id = fieldValue;
        else if (field === "event") eventName = fieldValue;
      }
      buffer = buffer.slice(start);

      if (done) {
        ended = true;
        break;
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!ended) {
      // Stopped early (the consumer broke out, an abort or an error): cancel
      // the body so the connection is released.
      reader.cancel().catch(() => {});
    }
    reader.releaseLock();
  }
}

/**
 * Yield every JSON event of an SSE body until `[DONE]` or the end of the body.
 * Data that is not JSON is skipped (a proxy's stray line must not end the
 * reply). When `signal` aborts, before or during the stream, the generator
 * ends quietly (as `@deltakit/react`'s does): the caller asked for the stop.
 */
export async function* parseSSEStream<TEvent = unknown>(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<TEvent, void, undefined> {
  try {
    for await (const message of readSSEMessages(body, signal)) {
      if (message.data === DONE) return;
      const event = parseJSON(message.data);
      if (event !== undefined) yield event as TEvent;
    }
  } catch (error) {
    if (signal?.aborted) return;
    throw error;
  }
}

/** True for the `[DONE]` sentinel's data. */
export function isDoneData(data: string): boolean {
  return data === DONE;
}

export function parseJSON(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}
