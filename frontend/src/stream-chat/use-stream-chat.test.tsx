import { act, render, screen } from "@testing-library/react";
import { StrictMode } from "react";
import { describe, expect, it, vi } from "vitest";
import type {
  ChatTransport,
  ChatTransportContext,
  Message,
  SSEEvent,
  UseStreamChatOptions,
  UseStreamChatReturn,
} from "./index";
import { useStreamChat } from "./index";

/** A transport whose runs the test drives by hand. */
function fakeTransport() {
  const runs: {
    message: string;
    context: ChatTransportContext;
    stop: ReturnType<typeof vi.fn>;
    close: ReturnType<typeof vi.fn>;
  }[] = [];
  const transport: ChatTransport = {
    start({ message, context }) {
      const run = { message, context, stop: vi.fn(), close: vi.fn() };
      runs.push(run);
      return { stop: run.stop, close: run.close };
    },
  };
  const last = () => {
    const run = runs[runs.length - 1];
    if (!run) throw new Error("no run started");
    return run;
  };
  return { transport, runs, last };
}

/** Let the frame the hook asked for (to render streamed events) run. */
async function nextFrame(): Promise<void> {
  await act(() => new Promise<void>((resolve) => requestAnimationFrame(() => resolve())));
}

function textOf(message: Message): string {
  return message.parts.map((p) => (p.type === "text" ? p.text : `[${p.type}]`)).join("");
}

type ChatRef = { current: UseStreamChatReturn | null };

/** The tiny harness: renders the hook's state as text and exposes its return value. */
function Harness(props: { options: UseStreamChatOptions; chatRef: ChatRef }) {
  const chat = useStreamChat(props.options);
  props.chatRef.current = chat;
  return (
    <div>
      <p data-testid="loading">{String(chat.isLoading)}</p>
      <p data-testid="error">{chat.error?.message ?? ""}</p>
      <ul>
        {chat.messages.map((m) => (
          <li key={m.id}>{`${m.role}: ${textOf(m)}`}</li>
        ))}
      </ul>
    </div>
  );
}

function renderHarness(options: UseStreamChatOptions) {
  const chatRef: ChatRef = { current: null };
  const view = render(<Harness options={options} chatRef={chatRef} />);
  const chat = () => {
    if (!chatRef.current) throw new Error("not rendered");
    return chatRef.current;
  };
  const rerender = (next: UseStreamChatOptions) =>
    view.rerender(<Harness options={next} chatRef={chatRef} />);
  const items = () => screen.queryAllByRole("listitem").map((li) => li.textContent);
  return { chat, rerender, items, unmount: view.unmount };
}

function sseResponse(chunks: string[], init: ResponseInit = {}): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
  return new Response(body, {
    status: 200,
    headers: { "Content-Type": "text/event-stream" },
    ...init,
  });
}

describe("useStreamChat", () => {
  it("starts from initialMessages, idle and without error", () => {
    const { transport } = fakeTransport();
    const initial: Message[] = [{ id: "m1", role: "user", parts: [{ type: "text", text: "hi" }] }];
    const { chat, items } = renderHarness({ transport, initialMessages: initial });
    expect(items()).toEqual(["user: hi"]);
    expect(chat().isLoading).toBe(false);
    expect(chat().error).toBeNull();
    expect(chat().runId).toBeNull();
  });

  it("throws without api for the default sse transport", () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    expect(() => renderHarness({})).toThrow(/api/);
  });

  it("sendMessage appends the user and an empty assistant message and starts the transport", () => {
    const { transport, runs } = fakeTransport();
    const { chat, items } = renderHarness({ transport });
    act(() => chat().sendMessage("hello"));
    expect(items()).toEqual(["user: hello", "assistant: "]);
    expect(chat().isLoading).toBe(true);
    expect(runs.map((r) => r.message)).toEqual(["hello"]);
  });

  it("streams text_delta events into the assistant message (default handler)", async () => {
    const { transport, last } = fakeTransport();
    const { chat, items } = renderHarness({ transport });
    act(() => chat().sendMessage("hi"));
    act(() => {
      last().context.emit({ type: "text_delta", delta: "Hel" });
      last().context.emit({ type: "tool_call", tool_name: "x", argument: "{}" });
      last().context.emit({ type: "text_delta", delta: "lo" });
    });
    await nextFrame();
    expect(items()).toEqual(["user: hi", "assistant: Hello"]);
  });

  it("renders streamed events on a later frame (batched), and at once when the run ends", async () => {
    const { transport, last } = fakeTransport();
    const { chat, items } = renderHarness({
      transport,
      onEvent: (event, helpers) => {
        if (event.type === "text_delta") helpers.appendText(event.delta);
      },
    });
    act(() => chat().sendMessage("hi"));
    // A new return object at every render: the same one means no render happened.
    const before = chat();
    act(() => {
      for (const delta of ["a", "b", "c"]) last().context.emit({ type: "text_delta", delta });
    });
    // Not rendered yet, but the transport already sees all three tokens.
    expect(chat()).toBe(before);
    expect(items()).toEqual(["user: hi", "assistant: "]);
    expect(last().context.getMessages()[1]?.parts).toEqual([{ type: "text", text: "abc" }]);
    await nextFrame();
    expect(items()).toEqual(["user: hi", "assistant: abc"]);
    act(() => {
      last().context.emit({ type: "text_delta", delta: "d" });
      last().context.finish();
    });
    // finish renders what is pending without waiting for a frame.
    expect(items()).toEqual(["user: hi", "assistant: abcd"]);
  });

  it("ignores sendMessage while a run is in progress, even twice in one tick", () => {
    const { transport, runs } = fakeTransport();
    const { chat, items } = renderHarness({ transport });
    act(() => {
      chat().sendMessage("one");
      chat().sendMessage("two");
    });
    act(() => chat().sendMessage("three"));
    expect(runs).toHaveLength(1);
    expect(items()).toEqual(["user: one", "assistant: "]);
  });

  it("finish ends loading, calls onMessage for the assistant and onFinish with all messages", () => {
    const { transport, last } = fakeTransport();
    const onFinish = vi.fn();
    const onMessage = vi.fn();
    const { chat } = renderHarness({ transport, onFinish, onMessage });
    act(() => chat().sendMessage("hi"));
    expect(onMessage).toHaveBeenCalledTimes(1);
    expect(onMessage.mock.calls[0]?.[0]).toMatchObject({
      role: "user",
      parts: [{ type: "text", text: "hi" }],
    });
    act(() => {
      last().context.emit({ type: "text_delta", delta: "there" });
      last().context.finish();
    });
    expect(chat().isLoading).toBe(false);
    expect(onMessage).toHaveBeenCalledTimes(2);
    expect(onMessage.mock.calls[1]?.[0]).toMatchObject({
      role: "assistant",
      parts: [{ type: "text", text: "there" }],
    });
    expect(onFinish).toHaveBeenCalledTimes(1);
    const finished = onFinish.mock.calls[0]?.[0] as Message[];
    expect(finished.map(textOf)).toEqual(["hi", "there"]);
    // A new send works after finish.
    act(() => chat().sendMessage("again"));
    expect(chat().isLoading).toBe(true);
  });

  it("fail sets error, ends loading, calls onError; the next send resets error", () => {
    const { transport, last } = fakeTransport();
    const onError = vi.fn();
    const onFinish = vi.fn();
    const { chat } = renderHarness({ transport, onError, onFinish });
    act(() => chat().sendMessage("hi"));
    const failure = new Error("Chat request failed: 500 Internal Server Error");
    act(() => last().context.fail(failure));
    expect(chat().error).toBe(failure);
    expect(chat().isLoading).toBe(false);
    expect(onError).toHaveBeenCalledWith(failure);
    expect(onFinish).not.toHaveBeenCalled();
    expect(screen.getByTestId("error")).toHaveTextContent("500");
    act(() => chat().sendMessage("retry"));
    expect(chat().error).toBeNull();
  });

  it("a transport that throws at start fails the run instead of crashing", () => {
    const onError = vi.fn();
    const transport: ChatTransport = {
      start() {
        throw new Error("boom");
      },
    };
    const { chat } = renderHarness({ transport, onError });
    act(() => chat().sendMessage("hi"));
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: "boom" }));
    expect(chat().isLoading).toBe(false);
  });

  it("stop aborts the run, keeps the partial reply and ignores later events", () => {
    const { transport, last } = fakeTransport();
    const onError = vi.fn();
    const onFinish = vi.fn();
    const { chat, items } = renderHarness({ transport, onError, onFinish });
    act(() => chat().sendMessage("hi"));
    act(() => last().context.emit({ type: "text_delta", delta: "part" }));
    act(() => chat().stop());
    expect(last().stop).toHaveBeenCalledTimes(1);
    expect(chat().isLoading).toBe(false);
    const abort = new DOMException("aborted", "AbortError");
    act(() => {
      last().context.emit({ type: "text_delta", delta: "late" });
      last().context.fail(abort);
      last().context.finish();
    });
    expect(items()).toEqual(["user: hi", "assistant: part"]);
    expect(onError).not.toHaveBeenCalled();
    expect(onFinish).not.toHaveBeenCalled();
    expect(() => act(() => chat().stop())).not.toThrow();
  });

  it("an AbortError reported by a transport ends the run without onError", () => {
    const { transport, last } = fakeTransport();
    const onError = vi.fn();
    const { chat } = renderHarness({ transport, onError });
    act(() => chat().sendMessage("hi"));
    act(() => last().context.fail(new DOMException("aborted", "AbortError")));
    expect(onError).not.toHaveBeenCalled();
    expect(chat().error).toBeNull();
    expect(chat().isLoading).toBe(false);
  });

  it("onEvent replaces the default handler and its helpers act on the assistant message", async () => {
    const { transport, last } = fakeTransport();
    const seen: SSEEvent[] = [];
    const { chat, items } = renderHarness({
      transport,
      onEvent(event, helpers) {
        seen.push(event);
        if (event.type === "tool_call") {
          helpers.appendPart({ type: "tool_call", tool_name: event.tool_name, argument: "{}" });
          helpers.appendText("after tool");
        }
      },
    });
    act(() => chat().sendMessage("hi"));
    act(() => {
      last().context.emit({ type: "text_delta", delta: "ignored by custom handler" });
      last().context.emit({ type: "tool_call", tool_name: "clock", argument: "{}" });
    });
    expect(seen.map((e) => e.type)).toEqual(["text_delta", "tool_call"]);
    await nextFrame();
    expect(items()).toEqual(["user: hi", "assistant: [tool_call]after tool"]);
  });

  it("setMessages replaces the list and getMessages sees it at once", () => {
    const { transport, last } = fakeTransport();
    const { chat, items } = renderHarness({ transport });
    act(() => chat().sendMessage("hi"));
    act(() => chat().setMessages((prev) => prev.slice(0, 1)));
    expect(items()).toEqual(["user: hi"]);
    expect(last().context.getMessages()).toHaveLength(1);
    act(() => last().context.ensureAssistantMessage());
    expect(items()).toEqual(["user: hi", "assistant: "]);
    act(() => chat().setMessages([]));
    expect(items()).toEqual([]);
  });

  it("unmount closes the run in progress and later events are ignored", () => {
    const { transport, last } = fakeTransport();
    const onFinish = vi.fn();
    const { chat, unmount } = renderHarness({ transport, onFinish });
    act(() => chat().sendMessage("hi"));
    unmount();
    expect(last().close).toHaveBeenCalledTimes(1);
    last().context.emit({ type: "text_delta", delta: "late" });
    last().context.finish();
    expect(onFinish).not.toHaveBeenCalled();
  });

  it("survives StrictMode's double effects without closing a live run", () => {
    const { transport, last } = fakeTransport();
    const ref: ChatRef = { current: null };
    render(
      <StrictMode>
        <Harness options={{ transport }} chatRef={ref} />
      </StrictMode>,
    );
    act(() => ref.current?.sendMessage("hi"));
    act(() => last().context.emit({ type: "text_delta", delta: "x" }));
    act(() => last().context.finish());
    expect(last().close).not.toHaveBeenCalled();
    expect(ref.current?.messages).toHaveLength(2);
  });

  it("calls resume at mount when a resumable transport has a run id", async () => {
    let resumed: { runId: string; context: ChatTransportContext } | undefined;
    const transport: ChatTransport = {
      runId: "run-7",
      start: () => undefined,
      resume(args) {
        resumed = args;
        return { runId: args.runId };
      },
    };
    const { chat, items } = renderHarness({ transport });
    expect(resumed?.runId).toBe("run-7");
    expect(chat().runId).toBe("run-7");
    expect(chat().isLoading).toBe(true);
    act(() => resumed?.context.emit({ type: "text_delta", delta: "resumed" }));
    await nextFrame();
    expect(items()).toEqual(["assistant: resumed"]);
  });

  describe("resume from transportOptions (whatever the transport)", () => {
    function resumableTransport() {
      const resumed: { runId: string; context: ChatTransportContext }[] = [];
      const stop = vi.fn();
      const transport: ChatTransport = {
        start: () => ({ stop }),
        resume(args) {
          resumed.push(args);
          return { runId: args.runId, stop };
        },
      };
      return { transport, resumed, stop };
    }
    const config = { startApi: "/s", eventsApi: "/e/:runId" };

    it("a custom transport resumes transportOptions.backgroundSSE.runId", () => {
      const { transport, resumed } = resumableTransport();
      const { chat } = renderHarness({
        transport,
        transportOptions: { backgroundSSE: { ...config, runId: "bg-1" } },
      });
      expect(resumed.map((r) => r.runId)).toEqual(["bg-1"]);
      expect(chat().runId).toBe("bg-1");
      expect(chat().isLoading).toBe(true);
    });

    it("a custom transport resumes transportOptions.websocket.runId, after backgroundSSE's keys", () => {
      const { transport, resumed } = resumableTransport();
      renderHarness({
        transport,
        transportOptions: { websocket: { url: "/ws", getResumeKey: () => "ws-2" } },
      });
      expect(resumed.map((r) => r.runId)).toEqual(["ws-2"]);

      const second = resumableTransport();
      renderHarness({
        transport: second.transport,
        transportOptions: {
          backgroundSSE: { ...config, getResumeKey: () => "bg-3" },
          websocket: { url: "/ws", runId: "ws-3" },
        },
      });
      expect(second.resumed.map((r) => r.runId)).toEqual(["bg-3"]);
    });

    it("resumes each run id once: not again at a re-render or after it finished", () => {
      const { transport, resumed } = resumableTransport();
      const options: UseStreamChatOptions = {
        transport,
        transportOptions: { backgroundSSE: { ...config, runId: "bg-4" } },
      };
      const { rerender, chat } = renderHarness(options);
      act(() => resumed[0]?.context.finish());
      rerender({ ...options });
      rerender({ ...options });
      expect(resumed).toHaveLength(1);
      expect(chat().isLoading).toBe(false);
      // A different run id named later is resumed.
      rerender({ ...options, transportOptions: { backgroundSSE: { ...config, runId: "bg-5" } } });
      expect(resumed.map((r) => r.runId)).toEqual(["bg-4", "bg-5"]);
    });

    it("does not resume after the user pressed stop, until the next send", () => {
      const { transport, resumed, stop } = resumableTransport();
      const options: UseStreamChatOptions = {
        transport,
        transportOptions: { backgroundSSE: { ...config, runId: "bg-6" } },
      };
      const { rerender, chat } = renderHarness(options);
      act(() => chat().stop());
      expect(stop).toHaveBeenCalledTimes(1);
      rerender({ ...options, transportOptions: { backgroundSSE: { ...config, runId: "bg-7" } } });
      expect(resumed.map((r) => r.runId)).toEqual(["bg-6"]);
      expect(chat().isLoading).toBe(false);
    });
  });

  describe("with the sse transport and an injected fetch", () => {
    it("posts {message, ...body} as JSON with the headers of the moment of each send", async () => {
      const fetchMock = vi.fn(async (_url: string, _init?: RequestInit) =>
        sseResponse(['data: {"type":"text_delta","delta":"ok"}\n\n', "data: [DONE]\n\n"]),
      );
      const fetchFn = fetchMock as unknown as typeof fetch;
      const onFinish = vi.fn();
      const base = { api: "/api/chat", transportOptions: { sse: { fetch: fetchFn } }, onFinish };
      const { chat, rerender, items } = renderHarness({
        ...base,
        headers: { Authorization: "Bearer one" },
        body: { conversation_id: "c1" },
      });
      await act(async () => chat().sendMessage("first"));
      await vi.waitFor(() => expect(onFinish).toHaveBeenCalledTimes(1));
      expect(items()).toEqual(["user: first", "assistant: ok"]);

      rerender({
        ...base,
        headers: { Authorization: "Bearer two" },
        body: { conversation_id: "c2" },
      });
      await act(async () => chat().sendMessage("second"));
      await vi.waitFor(() => expect(onFinish).toHaveBeenCalledTimes(2));

      expect(fetchMock).toHaveBeenCalledTimes(2);
      const [url, first] = fetchMock.mock.calls[0] ?? [];
      const second = fetchMock.mock.calls[1]?.[1];
      expect(url).toBe("/api/chat");
      expect(first?.method).toBe("POST");
      expect(first?.headers).toMatchObject({
        Authorization: "Bearer one",
        "Content-Type": "application/json",
      });
      expect(JSON.parse(String(first?.body))).toEqual({ message: "first", conversation_id: "c1" });
      expect(second?.headers).toMatchObject({ Authorization: "Bearer two" });
      expect(JSON.parse(String(second?.body))).toEqual({
        message: "second",
        conversation_id: "c2",
      });
    });

    it("reads a headers function at every send", async () => {
      let token = "a";
      const fetchMock = vi.fn(async (_url: string, _init?: RequestInit) =>
        sseResponse(["data: [DONE]\n\n"]),
      );
      const onFinish = vi.fn();
      const { chat } = renderHarness({
        api: "/api/chat",
        headers: () => ({ Authorization: `Bearer ${token}` }),
        transportOptions: { sse: { fetch: fetchMock as unknown as typeof fetch } },
        onFinish,
      });
      await act(async () => chat().sendMessage("1"));
      await vi.waitFor(() => expect(onFinish).toHaveBeenCalledTimes(1));
      token = "b";
      await act(async () => chat().sendMessage("2"));
      await vi.waitFor(() => expect(onFinish).toHaveBeenCalledTimes(2));
      expect(
        fetchMock.mock.calls.map((c) => new Headers(c[1]?.headers).get("Authorization")),
      ).toEqual(["Bearer a", "Bearer b"]);
    });

    it("fails a non-2xx response with status, code and the recipe's message", async () => {
      const fetchFn = (async () =>
        new Response(JSON.stringify({ detail: "Token expired", code: "token_not_valid" }), {
          status: 401,
          statusText: "Unauthorized",
          headers: { "Content-Type": "application/json" },
        })) as unknown as typeof fetch;
      const onError = vi.fn();
      const { chat } = renderHarness({
        api: "/api/chat",
        transportOptions: { sse: { fetch: fetchFn } },
        onError,
      });
      await act(async () => chat().sendMessage("hi"));
      await vi.waitFor(() => expect(onError).toHaveBeenCalledTimes(1));
      const error = onError.mock.calls[0]?.[0];
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toBe("Chat request failed: 401 Unauthorized");
      expect(error.status).toBe(401);
      expect(error.code).toBe("token_not_valid");
      expect(chat().isLoading).toBe(false);
    });

    it("stop aborts the fetch and never reaches onError", async () => {
      let signal: AbortSignal | undefined;
      const fetchFn = ((_url: string, init?: RequestInit) => {
        signal = init?.signal ?? undefined;
        return new Promise<Response>((_resolve, reject) => {
          signal?.addEventListener("abort", () =>
            reject(new DOMException("The operation was aborted.", "AbortError")),
          );
        });
      }) as unknown as typeof fetch;
      const onError = vi.fn();
      const { chat } = renderHarness({
        api: "/api/chat",
        transportOptions: { sse: { fetch: fetchFn } },
        onError,
      });
      await act(async () => chat().sendMessage("hi"));
      expect(signal?.aborted).toBe(false);
      await act(async () => chat().stop());
      expect(signal?.aborted).toBe(true);
      await new Promise((r) => setTimeout(r, 10));
      expect(onError).not.toHaveBeenCalled();
      expect(chat().error).toBeNull();
      expect(chat().isLoading).toBe(false);
    });
  });

  describe("with the resumable transports", () => {
    /** A fake run server: POST /api/runs → r1; events of any run replay `script`. */
    function runServer(script: string[]) {
      const calls: { url: string; headers: Headers }[] = [];
      const fetchFn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
        const url = String(input);
        calls.push({ url, headers: new Headers(init?.headers) });
        if (url === "/api/runs") {
          return new Response(JSON.stringify({ runId: "r1", conversation_id: "c1" }), {
            status: 202,
          });
        }
        const text = script
          .map(
            (delta, i) =>
              `id: ${i + 1}\ndata: ${JSON.stringify({ type: "text_delta", delta })}\n\n`,
          )
          .join("");
        return sseResponse([text, "data: [DONE]\n\n"]);
      }) as unknown as typeof fetch;
      return { fetch: fetchFn, calls };
    }

    it("background-sse: send → run id → events → done; hook headers and body apply", async () => {
      const server = runServer(["Hel", "lo"]);
      const onFinish = vi.fn();
      const onRunIdChange = vi.fn();
      const { chat, items } = renderHarness({
        transport: "background-sse",
        headers: { Authorization: "Bearer hook" },
        body: { conversation_id: "c1" },
        transportOptions: {
          backgroundSSE: {
            startApi: "/api/runs",
            eventsApi: "/api/runs/:runId/events",
            fetch: server.fetch,
            onRunIdChange,
          },
        },
        onFinish,
      });
      await act(async () => chat().sendMessage("hi"));
      await vi.waitFor(() => expect(onFinish).toHaveBeenCalledTimes(1));
      expect(items()).toEqual(["user: hi", "assistant: Hello"]);
      expect(chat().runId).toBeNull();
      expect(chat().isLoading).toBe(false);
      expect(onRunIdChange.mock.calls).toEqual([["r1"], [null]]);
      expect(server.calls.map((c) => c.url)).toEqual(["/api/runs", "/api/runs/r1/events"]);
      expect(server.calls.map((c) => c.headers.get("Authorization"))).toEqual([
        "Bearer hook",
        "Bearer hook",
      ]);
    });

    it("resumes at mount the run id kept in sessionStorage, into one fresh assistant message", async () => {
      sessionStorage.setItem("run", "r1");
      const server = runServer(["Resumed ", "reply"]);
      const onFinish = vi.fn();
      const options: UseStreamChatOptions = {
        transport: "background-sse",
        initialMessages: [{ id: "u1", role: "user", parts: [{ type: "text", text: "hi" }] }],
        transportOptions: {
          backgroundSSE: {
            startApi: "/api/runs",
            eventsApi: "/api/runs/:runId/events",
            fetch: server.fetch,
            getResumeKey: () => sessionStorage.getItem("run"),
            onRunIdChange: (id) =>
              id ? sessionStorage.setItem("run", id) : sessionStorage.removeItem("run"),
          },
        },
        onFinish,
      };
      const ref: ChatRef = { current: null };
      // StrictMode mounts twice: the first resume is closed, the second must
      // reuse the same (emptied) assistant message.
      render(
        <StrictMode>
          <Harness options={options} chatRef={ref} />
        </StrictMode>,
      );
      expect(ref.current?.runId).toBe("r1");
      await vi.waitFor(() => expect(onFinish).toHaveBeenCalledTimes(1));
      const items = screen.queryAllByRole("listitem").map((li) => li.textContent);
      expect(items).toEqual(["user: hi", "assistant: Resumed reply"]);
      expect(sessionStorage.getItem("run")).toBeNull();
      expect(ref.current?.runId).toBeNull();
      sessionStorage.clear();
    });

    it("websocket by name: resumes at mount with the stored run id and streams the replay", async () => {
      const sockets: EventTarget[] = [];
      const sent: unknown[] = [];
      const createWebSocket = () => {
        const socket = Object.assign(new EventTarget(), {
          readyState: 0,
          send: (data: string) => sent.push(JSON.parse(data)),
          close: () => {},
        });
        sockets.push(socket);
        return socket as unknown as WebSocket;
      };
      const onFinish = vi.fn();
      const { chat, items } = renderHarness({
        transport: "websocket",
        transportOptions: {
          websocket: { url: "ws://x.test/ws/chat", runId: "r5", createWebSocket },
        },
        onFinish,
      });
      expect(chat().runId).toBe("r5");
      const socket = sockets[0] as EventTarget & { readyState: number };
      act(() => {
        socket.readyState = 1;
        socket.dispatchEvent(new Event("open"));
      });
      expect(sent).toEqual([{ runId: "r5", lastEventId: 0 }]);
      act(() => {
        for (const frame of [
          { type: "text_delta", delta: "over ", runId: "r5", eventId: 1 },
          { type: "text_delta", delta: "the socket", runId: "r5", eventId: 2 },
          { type: "done", runId: "r5" },
        ]) {
          socket.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(frame) }));
        }
      });
      expect(items()).toEqual(["assistant: over the socket"]);
      expect(onFinish).toHaveBeenCalledTimes(1);
      expect(chat().runId).toBeNull();
    });

    it("websocket by name: the hook's body (read at send) is in the message frame", () => {
      const sent: unknown[] = [];
      const sockets: (EventTarget & { readyState: number })[] = [];
      const createWebSocket = () => {
        const socket = Object.assign(new EventTarget(), {
          readyState: 0,
          send: (data: string) => sent.push(JSON.parse(data)),
          close: () => {},
        });
        sockets.push(socket);
        return socket as unknown as WebSocket;
      };
      const flags = { replace: false };
      const { chat } = renderHarness({
        transport: "websocket",
        body: () => ({
          conversation_id: "c9",
          ...(flags.replace ? { replace_last_turn: true } : {}),
        }),
        transportOptions: { websocket: { url: "ws://x.test/ws/chat", createWebSocket } },
      });
      flags.replace = true;
      act(() => chat().sendMessage("again"));
      act(() => {
        const socket = sockets[0] as EventTarget & { readyState: number };
        socket.readyState = 1;
        socket.dispatchEvent(new Event("open"));
      });
      expect(sent).toEqual([{ message: "again", conversation_id: "c9", replace_last_turn: true }]);
    });

    it("throws when a resumable transport has no config", () => {
      vi.spyOn(console, "error").mockImplementation(() => {});
      expect(() => renderHarness({ transport: "background-sse" })).toThrow(/backgroundSSE/);
      expect(() => renderHarness({ transport: "websocket" })).toThrow(/websocket/);
    });
  });
});
