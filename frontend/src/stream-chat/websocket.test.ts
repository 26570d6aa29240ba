import { describe, expect, it, vi } from "vitest";
import type { ChatTransportContext, WebSocketTransportOptions } from "./types";
import { createWebSocketTransport, resolveSocketUrl } from "./websocket";

/** Just enough of a browser WebSocket for the transport, driven by the test. */
class FakeSocket extends EventTarget {
  readyState = 0;
  sent: unknown[] = [];
  closedWith: number | null = null;
  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    super();
  }
  send(data: string) {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.closedWith = code;
    this.readyState = 3;
  }
  // Test side: the server's actions.
  open() {
    this.readyState = 1;
    this.dispatchEvent(new Event("open"));
  }
  receive(frame: unknown) {
    this.dispatchEvent(
      new MessageEvent("message", {
        data: typeof frame === "string" ? frame : JSON.stringify(frame),
      }),
    );
  }
  drop(code: number, reason = "") {
    this.readyState = 3;
    this.dispatchEvent(
      Object.assign(new Event("close"), { code, reason, wasClean: code !== 1006 }),
    );
  }
}

function setup(extra: Partial<WebSocketTransportOptions> = {}) {
  const sockets: FakeSocket[] = [];
  const onRunIdChange = vi.fn();
  const transport = createWebSocketTransport({
    url: "ws://chat.test/ws/chat",
    onRunIdChange,
    reconnect: { baseDelayMs: 0 },
    createWebSocket: (url, protocols) => {
      const socket = new FakeSocket(url, protocols);
      sockets.push(socket);
      return socket as unknown as WebSocket;
    },
    ...extra,
  });
  const events: unknown[] = [];
  const runIds: (string | null)[] = [];
  const context: ChatTransportContext = {
    emit: (event) => events.push(event),
    finish: vi.fn(),
    fail: vi.fn(),
    ensureAssistantMessage: vi.fn(),
    getMessages: () => [],
    setRunId: (id) => runIds.push(id),
  };
  const last = () => {
    const socket = sockets[sockets.length - 1];
    if (!socket) throw new Error("no socket");
    return socket;
  };
  return { transport, sockets, last, context, events, runIds, onRunIdChange };
}

const delta = (text: string, eventId: number, runId = "r1") => ({
  type: "text_delta",
  delta: text,
  runId,
  eventId,
});

const textOf = (events: unknown[]) =>
  events.map((e) => (e as { delta?: string }).delta ?? "").join("");

describe("resolveSocketUrl", () => {
  it("resolves a path against the page, http→ws", () => {
    expect(resolveSocketUrl("/ws/chat")).toBe(`ws://${window.location.host}/ws/chat`);
    expect(resolveSocketUrl("wss://x.test/ws")).toBe("wss://x.test/ws");
  });
});

describe("websocket transport", () => {
  it("sends {message, ...body}, emits events (arrays too), tracks the run id and finishes on done", () => {
    const { transport, last, context, events, runIds, onRunIdChange } = setup({
      body: () => ({ conversation_id: "c1" }),
      protocols: ["bearer", "tok"],
    });
    transport.start({ message: "hi", context });
    const socket = last();
    expect(socket.protocols).toEqual(["bearer", "tok"]);
    socket.open();
    expect(socket.sent).toEqual([{ message: "hi", conversation_id: "c1" }]);
    socket.receive({ type: "conversation", id: "c1", title: "Hi", runId: "r1", eventId: 1 });
    socket.receive([delta("Hel", 2), delta("lo", 3)]);
    socket.receive("not json");
    expect(runIds).toEqual(["r1"]);
    socket.receive({ type: "done", runId: "r1" });
    expect(textOf(events)).toBe("Hello");
    expect(events).toHaveLength(3);
    expect(context.finish).toHaveBeenCalledTimes(1);
    expect(context.fail).not.toHaveBeenCalled();
    expect(runIds).toEqual(["r1", null]);
    expect(onRunIdChange.mock.calls).toEqual([["r1"], [null]]);
    expect(socket.closedWith).toBe(1000);
  });

  it("fails the run on an error frame, with its code and message", () => {
    const { transport, last, context } = setup();
    transport.start({ message: "hi", context });
    last().open();
    last().receive({ type: "error", code: "conflict", message: "A reply is already running." });
    expect(context.fail).toHaveBeenCalledTimes(1);
    const error = vi.mocked(context.fail).mock.calls[0]?.[0] as Error & { code?: string };
    expect(error.message).toBe("A reply is already running.");
    expect(error.code).toBe("conflict");
    expect(context.finish).not.toHaveBeenCalled();
  });

  it("a usage limit's error frame carries its retryAfter seconds", () => {
    const { transport, last, context } = setup();
    transport.start({ message: "hi", context });
    last().open();
    last().receive({
      type: "error",
      code: "turn_rate_exceeded",
      message: "Too many.",
      retryAfter: 12,
    });
    const error = vi.mocked(context.fail).mock.calls[0]?.[0] as Error & { retryAfter?: number };
    expect(error.retryAfter).toBe(12);
  });

  it("on close 4401 refreshes through onAuthError, reconnects with fresh protocols and resumes", async () => {
    let token = "old";
    const onAuthError = vi.fn(async () => {
      token = "fresh";
    });
    const { transport, sockets, last, context, events } = setup({
      protocols: () => ["bearer", token],
      onAuthError,
    });
    transport.start({ message: "hi", context });
    last().open();
    last().receive(delta("Hel", 1));
    last().receive(delta("lo", 2));
    last().drop(4401, "token expired");
    await vi.waitFor(() => expect(sockets).toHaveLength(2));
    expect(onAuthError).toHaveBeenCalledTimes(1);
    const second = last();
    expect(second.protocols).toEqual(["bearer", "fresh"]);
    second.open();
    expect(second.sent).toEqual([{ runId: "r1", lastEventId: 2 }]);
    second.receive(delta("lo", 2)); // replayed once too many: skipped
    second.receive(delta(" there", 3));
    second.receive({ type: "done", runId: "r1" });
    expect(textOf(events)).toBe("Hello there");
    expect(context.finish).toHaveBeenCalledTimes(1);
  });

  it("a 4401 before any run id re-sends the message after the refresh", async () => {
    const { transport, sockets, last, context } = setup({ onAuthError: async () => {} });
    transport.start({ message: "hi", context });
    last().open();
    last().drop(4401);
    await vi.waitFor(() => expect(sockets).toHaveLength(2));
    last().open();
    expect(last().sent).toEqual([{ message: "hi" }]);
  });

  it("a 4401 without onAuthError, or when the refresh is refused, fails with status 401", async () => {
    const refused = setup({ onAuthError: () => Promise.reject(new Error("refused")) });
    refused.transport.start({ message: "hi", context: refused.context });
    refused.last().open();
    refused.last().drop(4401);
    await vi.waitFor(() => expect(refused.context.fail).toHaveBeenCalledTimes(1));
    const error = vi.mocked(refused.context.fail).mock.calls[0]?.[0] as Error & { status?: number };
    expect(error.status).toBe(401);
    expect(error.message).toContain("401");
    expect(refused.sockets).toHaveLength(1);

    const bare = setup();
    bare.transport.start({ message: "hi", context: bare.context });
    bare.last().drop(4401);
    expect(bare.context.fail).toHaveBeenCalledTimes(1);
  });

  it("reconnects after a dropped socket and resumes from the last event (no duplicates)", async () => {
    const { transport, sockets, last, context, events } = setup();
    transport.start({ message: "hi", context });
    last().open();
    last().receive({ type: "conversation", id: "c1", title: "t", runId: "r1" }); // no eventId: counted
    last().receive({ type: "text_delta", delta: "a", runId: "r1" });
    last().drop(1006);
    await vi.waitFor(() => expect(sockets).toHaveLength(2));
    last().open();
    expect(last().sent).toEqual([{ runId: "r1", lastEventId: 2 }]);
    last().receive({ type: "text_delta", delta: "b", runId: "r1" });
    last().receive({ type: "done" });
    expect(textOf(events)).toBe("ab");
    expect(context.finish).toHaveBeenCalled();
  });

  it("a socket that drops before the run id is known fails instead of starting a second run", () => {
    const { transport, sockets, last, context } = setup();
    transport.start({ message: "hi", context });
    last().open();
    last().drop(1006);
    expect(context.fail).toHaveBeenCalledTimes(1);
    expect(sockets).toHaveLength(1);
  });

  it("resume sends {runId, lastEventId: 0} (or buildResumePayload) and streams the replay", () => {
    const { transport, last, context, events } = setup({ getResumeKey: () => "r7" });
    expect(transport.runId).toBe("r7");
    const run = transport.resume?.({ runId: "r7", context });
    expect(run?.runId).toBe("r7");
    last().open();
    expect(last().sent).toEqual([{ runId: "r7", lastEventId: 0 }]);
    last().receive(delta("all of it", 1, "r7"));
    last().receive({ type: "done", runId: "r7" });
    expect(textOf(events)).toBe("all of it");

    const custom = setup({
      url: (runId) => `ws://chat.test/runs/${runId}`,
      runIdKey: "job",
      buildResumePayload: (runId, lastEventId) => ({ resume: runId, after: lastEventId }),
    });
    custom.transport.resume?.({ runId: "j1", lastEventId: "3", context: custom.context });
    expect(custom.last().url).toBe("ws://chat.test/runs/j1");
    custom.last().open();
    expect(custom.last().sent).toEqual([{ resume: "j1", after: 3 }]);
  });

  it("stop() sends the stop frame, closes, POSTs cancelUrl and reports nothing", () => {
    const fetchMock = vi.fn(async () => new Response(null, { status: 202 }));
    const { transport, last, context, onRunIdChange } = setup({
      cancelUrl: "/api/runs/:runId/cancel",
      cancelHeaders: () => ({ Authorization: "Bearer t" }),
      fetch: fetchMock as unknown as typeof fetch,
    });
    const run = transport.start({ message: "hi", context });
    const socket = last();
    socket.open();
    socket.receive(delta("x", 1));
    run?.stop?.();
    expect(socket.sent).toEqual([{ message: "hi" }, { type: "stop" }]);
    expect(socket.closedWith).toBe(1000);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/runs/r1/cancel");
    expect(new Headers(init.headers).get("Authorization")).toBe("Bearer t");
    expect(onRunIdChange).toHaveBeenLastCalledWith(null);
    socket.drop(1000);
    socket.receive(delta("late", 2));
    expect(context.fail).not.toHaveBeenCalled();
    expect(context.finish).not.toHaveBeenCalled();
  });

  it("close() disconnects without the stop frame and keeps the run id", () => {
    const { transport, last, context, onRunIdChange } = setup();
    const run = transport.start({ message: "hi", context });
    last().open();
    last().receive(delta("x", 1));
    run?.close?.();
    expect(last().sent).toEqual([{ message: "hi" }]);
    expect(last().closedWith).toBe(1000);
    expect(onRunIdChange.mock.calls).toEqual([["r1"]]);
  });

  it("an application close code (4403) fails without reconnecting", () => {
    const { transport, sockets, last, context } = setup();
    transport.start({ message: "hi", context });
    last().open();
    last().receive(delta("x", 1));
    last().drop(4403, "origin");
    expect(context.fail).toHaveBeenCalledTimes(1);
    expect(sockets).toHaveLength(1);
  });
});
