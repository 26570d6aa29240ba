import { describe, expect, it } from "vitest";
import { parseSSEStream, readSSEMessages } from "./sse";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function collect(chunks: string[]): Promise<unknown[]> {
  const events: unknown[] = [];
  for await (const event of parseSSEStream(streamOf(chunks))) events.push(event);
  return events;
}

describe("parseSSEStream", () => {
  it("yields each data event as parsed JSON", async () => {
    const events = await collect([
      'data: {"type":"text_delta","delta":"Hel"}\n\n',
      'data: {"type":"text_delta","delta":"lo"}\n\n',
      "data: [DONE]\n\n",
    ]);
    expect(events).toEqual([
      { type: "text_delta", delta: "Hel" },
      { type: "text_delta", delta: "lo" },
    ]);
  });

  it("joins an event split across chunks, even inside the JSON and the line break", async () => {
    const events = await collect([
      "da",
      'ta: {"type":"text_del',
      'ta","delta":"a"}\n',
      "\n",
      'data: {"type":"text_delta","delta":"b"}',
      "\n\ndata: [DO",
      "NE]\n\n",
    ]);
    expect(events).toEqual([
      { type: "text_delta", delta: "a" },
      { type: "text_delta", delta: "b" },
    ]);
  });

  it("handles multi-byte characters split across chunks", async () => {
    const bytes = new TextEncoder().encode('data: {"delta":"héllo ✓"}\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
        controller.close();
      },
    });
    const events: unknown[] = [];
    for await (const event of parseSSEStream(body)) events.push(event);
    expect(events).toEqual([{ delta: "héllo ✓" }]);
  });

  it("accepts CRLF and bare CR line ends, including a CRLF split between chunks", async () => {
    const events = await collect([
      'data: {"n":1}\r\n\r\n',
      'data: {"n":2}\r',
      "\n\r",
      "\n",
      'data: {"n":3}\r\rdata: [DONE]\r\r',
    ]);
    expect(events).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it("treats a CR at the end of a chunk followed by LF as one line end", async () => {
    // As two line ends the event would be dispatched early as the invalid "[1,".
    const events = await collect(["data: [1,\r", "\ndata: 2]\r\n\r\n"]);
    expect(events).toEqual([[1, 2]]);
  });

  it("ignores comments and other fields", async () => {
    const events = await collect([
      ": ping\n\n",
      "event: message\nid: 7\nretry: 1000\n",
      ': another comment\ndata: {"ok":true}\n\n',
      "data: [DONE]\n\n",
    ]);
    expect(events).toEqual([{ ok: true }]);
  });

  it("joins multi-line data with a newline", async () => {
    const events = await collect(['data: {"text":\ndata: "two lines"}\n\n', "data: [DONE]\n\n"]);
    expect(events).toEqual([{ text: "two lines" }]);

    const raw = await collect(['data: "a\ndata: b"\n\n']);
    expect(raw).toEqual([]); // "a\nb" as JSON is invalid (raw newline in a string): skipped
  });

  it("strips exactly one space after the colon", async () => {
    const events = await collect(['data:{"a":1}\n\n', 'data:  "x"\n\n']);
    expect(events).toEqual([{ a: 1 }, "x"]);
  });

  it("stops at [DONE] and ignores anything after it", async () => {
    const events = await collect(['data: {"n":1}\n\ndata: [DONE]\n\ndata: {"n":2}\n\n']);
    expect(events).toEqual([{ n: 1 }]);
  });

  it("skips data that is not JSON and does not dispatch an unterminated event", async () => {
    const events = await collect(["data: not json\n\n", 'data: {"n":1}\n\n', 'data: {"n":2}']);
    expect(events).toEqual([{ n: 1 }]);
  });

  it("skips comments and event:/id: lines, yielding only the data", async () => {
    const events = await collect([
      ': keep-alive\n\nevent: delta\nid: 7\ndata: {"n":1}\n\n',
      "data: [DONE]\n\n",
    ]);
    expect(events).toEqual([{ n: 1 }]);
  });

  it("ends quietly when the signal aborts mid-stream, and releases the body", async () => {
    const encoder = new TextEncoder();
    let push: ((text: string) => void) | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (text) => controller.enqueue(encoder.encode(text));
      },
    });
    const abort = new AbortController();
    const seen: unknown[] = [];
    const run = (async () => {
      for await (const event of parseSSEStream(body, abort.signal)) {
        seen.push(event);
        abort.abort();
      }
    })();
    push?.('data: {"n":1}\n\n');
    await expect(run).resolves.toBeUndefined();
    expect(seen).toEqual([{ n: 1 }]);
    expect(body.locked).toBe(false);
  });

  it("yields nothing and does not throw when the signal is already aborted", async () => {
    const abort = new AbortController();
    abort.abort();
    const body = streamOf(['data: {"n":1}\n\n', "data: [DONE]\n\n"]);
    const seen: unknown[] = [];
    for await (const event of parseSSEStream(body, abort.signal)) seen.push(event);
    expect(seen).toEqual([]);
    expect(body.locked).toBe(false);
  });

  it("releases the reader lock at the end of the stream", async () => {
    const body = streamOf(['data: {"n":1}\n\n', "data: [DONE]\n\n"]);
    for await (const _event of parseSSEStream(body)) {
      // drain
    }
    expect(body.locked).toBe(false);
  });
});

describe("readSSEMessages", () => {
  it("yields raw data with each message's own id and event, [DONE] included", async () => {
    const messages = [];
    for await (const message of readSSEMessages(
      streamOf([
        'id: 1\r\nevent: delta\r\ndata: {"a":1}\r\n\r\n',
        ": ping\n\ndata: no id\n\n",
        "id: 3\ndata: line one\ndata: line two\n\nid: 4\ndata: [DONE]\n\n",
      ]),
    )) {
      messages.push(message);
    }
    expect(messages).toEqual([
      { id: "1", event: "delta", data: '{"a":1}' },
      { data: "no id" },
      { id: "3", data: "line one\nline two" },
      { id: "4", data: "[DONE]" },
    ]);
  });
});
