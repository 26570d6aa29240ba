import { describe, expect, it, vi } from "vitest";
import { createBackgroundSSETransport, defaultResolveRunId } from "./background-sse";
import type { BackgroundSSETransportOptions, ChatTransportContext } from "./types";

function fakeContext() {
  const events: unknown[] = [];
  const runIds: (string | null)[] = [];
  let settle: (outcome: string) => void = () => {};
  const settled = new Promise<string>((resolve) => {
    settle = resolve;
  });
  const context: ChatTransportContext = {
    emit: (event) => events.push(event),
    finish: vi.fn(() => settle("finish")),
    fail: vi.fn(() => settle("fail")),
    ensureAssistantMessage: vi.fn(),
    getMessages: () => [],
    setRunId: (id) => runIds.push(id),
  };
  return { context, events, runIds, settled };
}

const encoder = new TextEncoder();

/** The SSE text of events numbered from `from`. */
function frames(deltas: string[], from = 1): string {
  return deltas
    .map(
      (delta, i) => `id: ${from + i}\ndata: ${JSON.stringify({ type: "text_delta", delta })}\n\n`,
    )
    .join("");
}

function sse(text: string): Response {
  return new Response(text, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

/** A body that delivers `text` and then fails like a dropped connection. */
function dropped(text: string): Response {
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls += 1;
      // error() drops queued chunks, so fail only once the text has been read.
      if (pulls === 1) controller.enqueue(encoder.encode(text));
      else controller.error(new TypeError("network error"));
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

interface Call {
  url: string;
  method: string;
  headers: Headers;
  body: unknown;
}

/** A fake server: `handle` answers each request; every request is recorded. */
function fakeFetch(handle: (call: Call, calls: Call[]) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const call: Call = {
      url: String(input),
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    calls.push(call);
    if (init?.signal?.aborted) throw new DOMException("aborted", "AbortError");
    return handle(call, calls);
  });
  return { fetch: fn as unknown as typeof fetch, calls };
}

function options(
  fetchFn: typeof fetch,
  extra: Partial<BackgroundSSETransportOptions> = {},
): BackgroundSSETransportOptions {
  return {
    startApi: "/api/runs",
    eventsApi: "/api/runs/:runId/events",
    cancelApi: "/api/runs/:runId/cancel",
    fetch: fetchFn,
    reconnect: { baseDelayMs: 0 },
    ...extra,
  };
}

const textOf = (events: unknown[]) =>
  events
    .map((e) => (e as { delta?: string }).delta ?? `[${(e as { type: string }).type}]`)
    .join("");

describe("defaultResolveRunId", () => {
  it("reads runId, then job_id", () => {
    expect(defaultResolveRunId({ runId: "r1", job_id: "j" })).toBe("r1");
    expect(defaultResolveRunId({ job_id: 7 })).toBe("7");
    expect(defaultResolveRunId({})).toBeNull();
    expect(defaultResolveRunId(null)).toBeNull();
  });
});

describe("background-sse transport", () => {
  it("starts the run, reports its id, follows the events to [DONE] and clears the id", async () => {
    const server = fakeFetch((call) => {
      if (call.url === "/api/runs") return json(202, { runId: "r1", conversation_id: "c1" });
      if (call.url === "/api/runs/r1/events") {
        return sse(
          `id: 1\ndata: {"type":"conversation","id":"c1","title":"Hi"}\n\n${frames(["Hel", "lo"], 2)}: ping\n\ndata: [DONE]\n\n`,
        );
      }
      return json(404, {});
    });
    const onRunIdChange = vi.fn();
    const transport = createBackgroundSSETransport(
      options(server.fetch, {
        startHeaders: () => ({ Authorization: "Bearer t1" }),
        eventHeaders: () => ({ Authorization: "Bearer t1" }),
        startBody: { conversation_id: "c1" },
        onRunIdChange,
      }),
    );
    const { context, events, runIds, settled } = fakeContext();
    transport.start({ message: "hi", context });
    await expect(settled).resolves.toBe("finish");

    expect(events[0]).toEqual({ type: "conversation", id: "c1", title: "Hi" });
    expect(textOf(events.slice(1))).toBe("Hello");
    expect(runIds).toEqual(["r1", null]);
    expect(onRunIdChange.mock.calls).toEqual([["r1"], [null]]);
    const [start, follow] = server.calls;
    expect(start).toMatchObject({ method: "POST", body: { message: "hi", conversation_id: "c1" } });
    expect(start?.headers.get("Authorization")).toBe("Bearer t1");
    expect(start?.headers.get("Content-Type")).toBe("application/json");
    expect(follow?.headers.get("Authorization")).toBe("Bearer t1");
    expect(follow?.headers.get("Last-Event-ID")).toBeNull();
    expect(server.calls).toHaveLength(2);
  });

  it("uses resolveRunId, startMethod and a function eventsApi", async () => {
    const server = fakeFetch((call) =>
      call.url === "/jobs" ? json(200, { data: { id: "x/1" } }) : sse("data: [DONE]\n\n"),
    );
    const transport = createBackgroundSSETransport(
      options(server.fetch, {
        startApi: "/jobs",
        startMethod: "PUT",
        resolveRunId: (r) => (r as { data: { id: string } }).data.id,
        eventsApi: (id) => `/jobs/${encodeURIComponent(id)}/stream`,
      }),
    );
    const { context, settled } = fakeContext();
    transport.start({ message: "hi", context });
    await expect(settled).resolves.toBe("finish");
    expect(server.calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "PUT /jobs",
      "GET /jobs/x%2F1/stream",
    ]);
  });

  it("reconnects with Last-Event-ID after a dropped connection: nothing lost, nothing doubled", async () => {
    const all = ["The ", "quick ", "brown ", "fox"];
    const server = fakeFetch((call, calls) => {
      if (call.url === "/api/runs") return json(202, { runId: "r1" });
      const follows = calls.filter((c) => c.url.endsWith("/events")).length;
      if (follows === 1) return dropped(frames(all.slice(0, 2))); // ids 1-2, then the drop
      if (follows === 2) {
        // Ends cleanly but before [DONE] (a proxy timeout), and replays event 2 once too many.
        return sse(frames(all.slice(1, 3), 2));
      }
      return sse(`${frames(all.slice(3), 4)}data: [DONE]\n\n`);
    });
    const transport = createBackgroundSSETransport(options(server.fetch));
    const { context, events, settled } = fakeContext();
    transport.start({ message: "hi", context });
    await expect(settled).resolves.toBe("finish");
    expect(textOf(events)).toBe("The quick brown fox");
    const follows = server.calls.filter((c) => c.url.endsWith("/events"));
    expect(follows.map((c) => c.headers.get("Last-Event-ID"))).toEqual([null, "2", "3"]);
  });

  it("retries a 503 on the events stream, but fails at once on a 404", async () => {
    let follows = 0;
    const server = fakeFetch((call) => {
      if (call.url === "/api/runs") return json(202, { runId: "r1" });
      follows += 1;
      return follows === 1 ? json(503, { detail: "busy" }) : json(404, { code: "not_found" });
    });
    const onRunIdChange = vi.fn();
    const transport = createBackgroundSSETransport(options(server.fetch, { onRunIdChange }));
    const { context, settled } = fakeContext();
    transport.start({ message: "hi", context });
    await expect(settled).resolves.toBe("fail");
    expect(follows).toBe(2);
    const error = vi.mocked(context.fail).mock.calls[0]?.[0] as Error & { status?: number };
    expect(error.status).toBe(404);
    expect(onRunIdChange).toHaveBeenLastCalledWith(null);
  });

  it("gives up after the configured number of reconnections in a row", async () => {
    const server = fakeFetch((call) => {
      if (call.url === "/api/runs") return json(202, { runId: "r1" });
      throw new TypeError("Failed to fetch");
    });
    const transport = createBackgroundSSETransport(
      options(server.fetch, { reconnect: { attempts: 2, baseDelayMs: 0 } }),
    );
    const { context, settled } = fakeContext();
    transport.start({ message: "hi", context });
    await expect(settled).resolves.toBe("fail");
    expect(server.calls.filter((c) => c.url.endsWith("/events"))).toHaveLength(3);
    expect(vi.mocked(context.fail).mock.calls[0]?.[0]?.message).toBe("Failed to fetch");
  });

  it("fails with the status when the start request is refused", async () => {
    const server = fakeFetch(() => json(409, { detail: "Busy", code: "conflict" }));
    const onRunIdChange = vi.fn();
    const transport = createBackgroundSSETransport(options(server.fetch, { onRunIdChange }));
    const { context, settled } = fakeContext();
    transport.start({ message: "hi", context });
    await expect(settled).resolves.toBe("fail");
    const error = vi.mocked(context.fail).mock.calls[0]?.[0] as Error & { status?: number };
    expect(error.message).toBe("Chat request failed: 409 Conflict");
    expect(error.status).toBe(409);
    expect(onRunIdChange).not.toHaveBeenCalled();
  });

  it("after a 401 asks onAuthError for fresh credentials and retries once with them", async () => {
    let token = "old";
    const server = fakeFetch((call) => {
      if (call.headers.get("Authorization") !== "Bearer fresh") return json(401, {});
      if (call.url === "/api/runs") return json(202, { runId: "r1" });
      return sse(`${frames(["ok"])}data: [DONE]\n\n`);
    });
    const onAuthError = vi.fn(async () => {
      token = "fresh";
    });
    const auth = () => ({ Authorization: `Bearer ${token}` });
    const transport = createBackgroundSSETransport(
      options(server.fetch, { startHeaders: auth, eventHeaders: auth, onAuthError }),
    );
    const { context, events, settled } = fakeContext();
    transport.start({ message: "hi", context });
    await expect(settled).resolves.toBe("finish");
    expect(textOf(events)).toBe("ok");
    expect(onAuthError).toHaveBeenCalledTimes(1);
    expect(server.calls.map((c) => c.headers.get("Authorization"))).toEqual([
      "Bearer old",
      "Bearer fresh",
      "Bearer fresh",
    ]);
  });

  it("a 401 without onAuthError (or a second one) fails the run with status 401", async () => {
    const server = fakeFetch(() => json(401, { code: "token_not_valid" }));
    const onAuthError = vi.fn(async () => {});
    const transport = createBackgroundSSETransport(options(server.fetch, { onAuthError }));
    const { context, settled } = fakeContext();
    transport.start({ message: "hi", context });
    await expect(settled).resolves.toBe("fail");
    const error = vi.mocked(context.fail).mock.calls[0]?.[0] as Error & { status?: number };
    expect(error.status).toBe(401);
    expect(onAuthError).toHaveBeenCalledTimes(1);
    expect(server.calls).toHaveLength(2);
  });

  it("resume re-attaches to a run by id and replays it from the start", async () => {
    const server = fakeFetch(() => sse(`${frames(["Hello ", "again"])}data: [DONE]\n\n`));
    const onRunIdChange = vi.fn();
    const transport = createBackgroundSSETransport(
      options(server.fetch, { getResumeKey: () => "r9", onRunIdChange }),
    );
    expect(transport.runId).toBe("r9");
    const { context, events, runIds, settled } = fakeContext();
    const run = transport.resume?.({ runId: "r9", context });
    expect(run?.runId).toBe("r9");
    await expect(settled).resolves.toBe("finish");
    expect(textOf(events)).toBe("Hello again");
    expect(server.calls.map((c) => c.url)).toEqual(["/api/runs/r9/events"]);
    expect(server.calls[0]?.headers.get("Last-Event-ID")).toBeNull();
    expect(runIds).toEqual(["r9", null]);
    expect(onRunIdChange).toHaveBeenLastCalledWith(null);
  });

  it("resume from a known last event id sends it as Last-Event-ID", async () => {
    const server = fakeFetch(() => sse(`${frames(["tail"], 5)}data: [DONE]\n\n`));
    const transport = createBackgroundSSETransport(options(server.fetch, { runId: "r9" }));
    expect(transport.runId).toBe("r9");
    const { context, events, settled } = fakeContext();
    transport.resume?.({ runId: "r9", lastEventId: "4", context });
    await expect(settled).resolves.toBe("finish");
    expect(textOf(events)).toBe("tail");
    expect(server.calls[0]?.headers.get("Last-Event-ID")).toBe("4");
  });

  it("stop() aborts the stream, POSTs the cancel endpoint and reports no error", async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = fakeFetch(async (call) => {
      if (call.url === "/api/runs") return json(202, { runId: "r1" });
      if (call.url === "/api/runs/r1/cancel") return json(202, { status: "cancelled" });
      // One event, then silence: the run is in progress.
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode(frames(["partial"])));
          await held;
        },
      });
      return new Response(body, { status: 200 });
    });
    const onRunIdChange = vi.fn();
    const transport = createBackgroundSSETransport(
      options(server.fetch, { startHeaders: { Authorization: "Bearer t" }, onRunIdChange }),
    );
    const { context, events } = fakeContext();
    const run = transport.start({ message: "hi", context });
    await vi.waitFor(() => expect(events).toHaveLength(1));
    run?.stop?.();
    await vi.waitFor(() =>
      expect(server.calls.map((c) => `${c.method} ${c.url}`)).toContain("POST /api/runs/r1/cancel"),
    );
    release();
    const cancel = server.calls.find((c) => c.url.endsWith("/cancel"));
    expect(cancel?.headers.get("Authorization")).toBe("Bearer t");
    expect(onRunIdChange).toHaveBeenLastCalledWith(null);
    await new Promise((r) => setTimeout(r, 10));
    expect(context.fail).not.toHaveBeenCalled();
    expect(context.finish).not.toHaveBeenCalled();
  });

  it("stop() while the start request is in flight cancels the run once its id is known", async () => {
    let answer: (r: Response) => void = () => {};
    const server = fakeFetch((call) => {
      if (call.url === "/api/runs") {
        return new Promise<Response>((resolve) => {
          answer = resolve;
        });
      }
      return json(202, {});
    });
    const transport = createBackgroundSSETransport(options(server.fetch));
    const { context } = fakeContext();
    const run = transport.start({ message: "hi", context });
    await vi.waitFor(() => expect(server.calls).toHaveLength(1));
    run?.stop?.();
    answer(json(202, { runId: "r2" }));
    await vi.waitFor(() =>
      expect(server.calls.map((c) => c.url)).toEqual(["/api/runs", "/api/runs/r2/cancel"]),
    );
    expect(context.fail).not.toHaveBeenCalled();
  });

  it("close() disconnects without cancelling and keeps the run id", async () => {
    const server = fakeFetch(async (call) => {
      if (call.url === "/api/runs") return json(202, { runId: "r1" });
      return new Response(new ReadableStream<Uint8Array>({ start() {} }), { status: 200 });
    });
    const onRunIdChange = vi.fn();
    const transport = createBackgroundSSETransport(options(server.fetch, { onRunIdChange }));
    const { context } = fakeContext();
    const run = transport.start({ message: "hi", context });
    await vi.waitFor(() => expect(server.calls).toHaveLength(2));
    run?.close?.();
    await new Promise((r) => setTimeout(r, 10));
    expect(server.calls.some((c) => c.url.endsWith("/cancel"))).toBe(false);
    expect(onRunIdChange.mock.calls).toEqual([["r1"]]);
    expect(context.fail).not.toHaveBeenCalled();
  });
});
