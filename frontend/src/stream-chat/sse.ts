/**
 * Server-Sent Events parser for the chat stream.
 *
 * Follows the EventSource line rules (LF, CRLF or CR line ends; `:` comments;
 * consecutive `data:` lines joined with "\n"; a blank line dispatches) and the
 * `@deltakit/react` wire convention: each event's data is JSON and the stream
 * ends at `data: [DONE]`. Other fields (`event:`, `id:`, `retry:`) are ignored.
 */

const DONE = "[DONE]";

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/**
 * Yield every JSON event of an SSE body until `[DONE]` or the end of the body.
 * Data that is not JSON is skipped (a proxy's stray line must not end the
 * reply). Aborting `signal` cancels the body and rejects with its reason.
 */
export async function* parseSSEStream<TEvent = unknown>(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<TEvent, void, undefined> {
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
  let finished = false;
  let ended = false;

  try {
    if (signal?.aborted) throw abortError(signal);
    while (!finished) {
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
            const data = dataLines.join("\n");
            dataLines = [];
            if (data === DONE) {
              finished = true;
              break;
            }
            const event = parseJSON(data);
            if (event !== undefined) yield event as TEvent;
          }
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") dataLines.push(value);
      }
      buffer = buffer.slice(start);

      if (done) {
        ended = true;
        break;
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (ended) {
      reader.releaseLock();
    } else {
      // Stopped early ([DONE], an abort, an error or a consumer that broke out
      // of the loop): cancel the body so the connection is released.
      reader.cancel().catch(() => {});
    }
  }
}

function parseJSON(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}
