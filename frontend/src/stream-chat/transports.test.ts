import { describe, expect, it, vi } from "vitest";
import { createChatRequestError, createSSETransport } from "./transports";
import type { ChatTransportContext } from "./types";

function fakeContext() {
  const events: unknown[] = [];
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
    setRunId: vi.fn(),
  };
  return { context, events, settled };
}

function sse(text: string, init: ResponseInit = {}): Response {
  return new Response(text, {
    status: 200,
    headers: { "Content-Type": "text/event-stream" },
    ...init,
  });
}

describe("createChatRequestError", () => {
  it("uses the recipe's message and reads code and detail from our JSON errors", async () => {
    const error = await createChatRequestError(
      new Response(JSON.stringify({ detail: "Slow down", code: "throttled" }), {
        status: 429,
        statusText: "Too Many Requests",
        headers: { "Retry-After": "12" },
      }),
    );
    expect(error.message).toBe("Chat request failed: 429 Too Many Requests");
    expect(error).toMatchObject({
      status: 429,
      code: "throttled",
      detail: "Slow down",
      retryAfter: 12,
    });
  });

  it("fills in a missing statusText and copes with a non-JSON body", async () => {
    const error = await createChatRequestError(new Response("<html>", { status: 401 }));
    expect(error.message).toBe("Chat request failed: 401 Unauthorized");
    expect(error.status).toBe(401);
    expect(error.code).toBeUndefined();
  });
});

describe("sse transport", () => {
  it("emits every event, then finishes", async () => {
    const fetchFn = vi.fn(async () =>
      sse(
        'data: {"type":"text_delta","delta":"a"}\n\n: ping\n\ndata: {"type":"usage"}\n\ndata: [DONE]\n\n',
      ),
    );
    const transport = createSSETransport({
      api: "/api/chat",
      fetch: fetchFn as unknown as typeof fetch,
    });
    const { context, events, settled } = fakeContext();
    transport.start({ message: "hi", context });
    await expect(settled).resolves.toBe("finish");
    expect(events).toEqual([{ type: "text_delta", delta: "a" }, { type: "usage" }]);
  });

  it("reads headers and body when each run starts", async () => {
    let token = "one";
    const fetchFn = vi.fn(async (_url: string, _init?: RequestInit) => sse("data: [DONE]\n\n"));
    const transport = createSSETransport({
      api: "/api/chat",
      fetch: fetchFn as unknown as typeof fetch,
      headers: () => ({ Authorization: `Bearer ${token}`, "Content-Type": "text/plain" }),
      body: () => ({ conversation_id: token }),
    });
    const first = fakeContext();
    transport.start({ message: "1", context: first.context });
    await first.settled;
    token = "two";
    const second = fakeContext();
    transport.start({ message: "2", context: second.context });
    await second.settled;
    const inits = fetchFn.mock.calls.map((c) => c[1]);
    expect(inits.map((i) => new Headers(i?.headers).get("Authorization"))).toEqual([
      "Bearer one",
      "Bearer two",
    ]);
    // Content-Type is always JSON.
    expect(new Headers(inits[0]?.headers).get("Content-Type")).toBe("application/json");
    expect(JSON.parse(String(inits[1]?.body))).toEqual({ message: "2", conversation_id: "two" });
  });

  it("fails on a network error", async () => {
    const fetchFn = vi.fn(async () => {
      throw new TypeError("Failed to fetch");
    });
    const transport = createSSETransport({
      api: "/api/chat",
      fetch: fetchFn as unknown as typeof fetch,
    });
    const { context, settled } = fakeContext();
    transport.start({ message: "hi", context });
    await expect(settled).resolves.toBe("fail");
    expect(context.fail).toHaveBeenCalledWith(
      expect.objectContaining({ message: "Failed to fetch" }),
    );
  });

  it("stop() aborts the request and reports neither finish nor fail", async () => {
    let signal: AbortSignal | undefined;
    const fetchFn = vi.fn((_url: string, init?: RequestInit) => {
      signal = init?.signal ?? undefined;
      return new Promise<Response>((_resolve, reject) => {
        signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
    });
    const transport = createSSETransport({
      api: "/api/chat",
      fetch: fetchFn as unknown as typeof fetch,
    });
    const { context } = fakeContext();
    const run = transport.start({ message: "hi", context });
    run?.stop?.();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(signal?.aborted).toBe(true);
    expect(context.fail).not.toHaveBeenCalled();
    expect(context.finish).not.toHaveBeenCalled();
  });
});

describe("sse transport and onAuthError", () => {
  it("on 401 waits for onAuthError, then sends the same body once more with fresh headers", async () => {
    let token = "old";
    const calls: { auth: string | null; body: string }[] = [];
    const fetchFn = (async (_url: string, init: RequestInit) => {
      const auth = new Headers(init.headers).get("Authorization");
      calls.push({ auth, body: String(init.body) });
      if (auth !== "Bearer fresh") {
        return new Response(JSON.stringify({ detail: "Expired", code: "token_not_valid" }), {
          status: 401,
        });
      }
      return sse('data: {"type":"text_delta","delta":"ok"}\n\ndata: [DONE]\n\n');
    }) as unknown as typeof fetch;
    const onAuthError = vi.fn(async (error: Error) => {
      expect(error).toMatchObject({ status: 401, code: "token_not_valid" });
      token = "fresh";
    });
    const transport = createSSETransport(() => ({
      api: "/api/chat",
      headers: () => ({ Authorization: `Bearer ${token}` }),
      body: { conversation_id: "c1" },
      fetch: fetchFn,
      onAuthError,
    }));
    const { context, events, settled } = fakeContext();
    transport.start({ message: "hi", context });
    expect(await settled).toBe("finish");
    expect(onAuthError).toHaveBeenCalledTimes(1);
    expect(calls.map((c) => c.auth)).toEqual(["Bearer old", "Bearer fresh"]);
    expect(calls[0]?.body).toBe(calls[1]?.body);
    expect(JSON.parse(calls[1]?.body ?? "")).toEqual({ message: "hi", conversation_id: "c1" });
    expect(events).toEqual([{ type: "text_delta", delta: "ok" }]);
  });

  it("fails with the 401 when onAuthError rejects, or when the retry is refused too", async () => {
    const fetchFn = (async () =>
      new Response("{}", { status: 401, statusText: "Unauthorized" })) as unknown as typeof fetch;
    for (const onAuthError of [vi.fn(async () => Promise.reject(new Error("refused"))), vi.fn()]) {
      const transport = createSSETransport({ api: "/api/chat", fetch: fetchFn, onAuthError });
      const { context, settled } = fakeContext();
      transport.start({ message: "hi", context });
      expect(await settled).toBe("fail");
      expect(context.fail).toHaveBeenCalledWith(
        expect.objectContaining({ status: 401, message: "Chat request failed: 401 Unauthorized" }),
      );
      expect(onAuthError).toHaveBeenCalledTimes(1);
    }
  });
});
