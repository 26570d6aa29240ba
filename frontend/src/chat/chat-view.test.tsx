import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../auth/auth-provider";
import { AuthSession, SESSION_EXPIRED } from "../auth/session";
import { ChatView } from "./chat-view";
import { loadRun, RUN_STORAGE_KEY, type StoredRun } from "./run-store";

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

function sse(events: unknown[]): Response {
  const text = `${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("")}data: [DONE]\n\n`;
  return new Response(text, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

const FUTURE = "2999-01-01T00:00:00Z";

/** Backend double: /api/chat accepts only `valid.token`; refresh issues "fresh" (or is refused). */
function backend(options: { refuseRefresh?: boolean } = {}) {
  const valid = { token: "old" };
  const chatCalls: { auth: string | null; body: unknown }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const auth = new Headers(init?.headers).get("Authorization");
    if (url === "/api/auth/token") {
      return json(200, {
        access: "old",
        access_expires_at: FUTURE,
        user: { id: 1, username: "owner" },
      });
    }
    if (url === "/api/auth/token/refresh") {
      if (options.refuseRefresh) return json(401, { detail: "Revoked", code: "token_not_valid" });
      valid.token = "fresh";
      return json(200, { access: "fresh", access_expires_at: FUTURE });
    }
    if (url === "/api/chat") {
      chatCalls.push({ auth, body: JSON.parse(String(init?.body)) });
      if (auth !== `Bearer ${valid.token}`) {
        return json(401, { detail: "Token expired", code: "token_not_valid" });
      }
      return sse([
        { type: "conversation", id: "42", title: "Hello" },
        { type: "text_delta", delta: "Hi " },
        { type: "text_delta", delta: "there" },
        { type: "usage", input_tokens: 1, output_tokens: 2 },
      ]);
    }
    return json(404, { detail: "Not found", code: "not_found" });
  });
  return { fetch: fetchMock as unknown as typeof fetch, valid, chatCalls };
}

async function setup(options: { refuseRefresh?: boolean } = {}) {
  const server = backend(options);
  vi.stubGlobal("fetch", server.fetch);
  const session = new AuthSession({ setTimeout: () => 0, clearTimeout: () => {} });
  await session.login("owner", "pw");
  const onCreated = vi.fn();
  render(
    <AuthProvider session={session}>
      <ChatView conversationId={null} onConversationCreated={onCreated} onTurnFinished={() => {}} />
    </AuthProvider>,
  );
  return { server, session, onCreated };
}

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe("ChatView", () => {
  it("Enter sends; the reply streams in and the new conversation id is reported", async () => {
    const { server, onCreated } = await setup();
    await userEvent.type(screen.getByRole("textbox", { name: "Message" }), "Hello{Enter}");
    await screen.findByText("Hi there");
    expect(onCreated).toHaveBeenCalledWith("42", "Hello");
    expect(server.chatCalls).toHaveLength(1);
    expect(server.chatCalls[0]?.body).toEqual({ message: "Hello" });
    expect(await screen.findByText("Tokens: 1 in, 2 out")).toBeInTheDocument();
  });

  it("Shift+Enter adds a line instead of sending", async () => {
    const { server } = await setup();
    const box = screen.getByRole("textbox", { name: "Message" });
    await userEvent.type(box, "a{Shift>}{Enter}{/Shift}b");
    expect(box).toHaveValue("a\nb");
    expect(server.chatCalls).toHaveLength(0);
  });

  it("on 401 refreshes the token and re-sends the same message once, without duplicates", async () => {
    const { server, session } = await setup();
    server.valid.token = "rotated"; // the access token in memory is no longer accepted
    await userEvent.type(screen.getByRole("textbox", { name: "Message" }), "Hello{Enter}");
    await screen.findByText("Hi there");
    expect(server.chatCalls.map((c) => c.auth)).toEqual(["Bearer old", "Bearer fresh"]);
    expect(server.chatCalls[1]?.body).toEqual({ message: "Hello" });
    expect(screen.getAllByRole("article", { name: "Your message" })).toHaveLength(1);
    expect(screen.getAllByRole("article", { name: "Assistant message" })).toHaveLength(1);
    expect(screen.queryByRole("alert")).toBeNull();
    expect(session.getToken()).toBe("fresh");
  });

  it("a new chat offers example prompts; one click sends it", async () => {
    const { server } = await setup();
    const examples = screen.getByRole("list", { name: "Example prompts" });
    const first = within(examples).getAllByRole("button")[0] as HTMLElement;
    await userEvent.click(first);
    await screen.findByText("Hi there");
    expect(server.chatCalls[0]?.body).toEqual({ message: first.textContent });
  });

  it("Regenerate drops the reply and sends the same text with replace_last_turn", async () => {
    const { server } = await setup();
    await userEvent.type(screen.getByRole("textbox", { name: "Message" }), "Hello{Enter}");
    await screen.findByText("Hi there");
    await userEvent.click(await screen.findByRole("button", { name: "Regenerate" }));
    await waitFor(() => expect(server.chatCalls).toHaveLength(2));
    await screen.findByRole("button", { name: "Regenerate" });
    expect(server.chatCalls[1]?.body).toEqual({
      message: "Hello",
      conversation_id: "42",
      replace_last_turn: true,
    });
    expect(screen.getAllByRole("article", { name: "Your message" })).toHaveLength(1);
    expect(screen.getAllByRole("article", { name: "Assistant message" })).toHaveLength(1);
  });

  it("Edit sends the new text in place of the last turn", async () => {
    const { server } = await setup();
    await userEvent.type(screen.getByRole("textbox", { name: "Message" }), "Hello{Enter}");
    await screen.findByText("Hi there");
    await userEvent.click(await screen.findByRole("button", { name: "Edit" }));
    const editor = screen.getByRole("textbox", { name: "Edit your message" });
    expect(editor).toHaveValue("Hello");
    await userEvent.clear(editor);
    await userEvent.type(editor, "Hello again");
    await userEvent.click(screen.getByRole("button", { name: "Save and send" }));
    await waitFor(() => expect(server.chatCalls).toHaveLength(2));
    expect(server.chatCalls[1]?.body).toEqual({
      message: "Hello again",
      conversation_id: "42",
      replace_last_turn: true,
    });
    await waitFor(() =>
      expect(
        screen.getAllByRole("article", { name: "Your message" }).map((a) => a.textContent),
      ).toEqual(["Hello again"]),
    );
    expect(screen.getAllByRole("article", { name: "Assistant message" })).toHaveLength(1);
  });

  it("a refused refresh ends the session with an explanation instead of looping", async () => {
    const { server, session } = await setup({ refuseRefresh: true });
    server.valid.token = "rotated";
    await userEvent.type(screen.getByRole("textbox", { name: "Message" }), "Hello{Enter}");
    await waitFor(() => expect(session.getState().status).toBe("anonymous"));
    expect(session.getState().reason).toBe(SESSION_EXPIRED);
    expect(server.chatCalls).toHaveLength(1);
  });
});

const HISTORY = [
  { id: "1", role: "user", parts: [{ type: "text", text: "First question" }] },
  { id: "2", role: "assistant", parts: [{ type: "text", text: "First answer" }] },
];

function runEvents(deltas: string[]): Response {
  const text = [
    `id: 1\ndata: ${JSON.stringify({ type: "conversation", id: "42", title: "Hello" })}\n\n`,
    ...deltas.map(
      (delta, i) => `id: ${i + 2}\ndata: ${JSON.stringify({ type: "text_delta", delta })}\n\n`,
    ),
    "data: [DONE]\n\n",
  ].join("");
  return new Response(text, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

/** Backend double for the resumable runs: history of conversation 42 and run r1. */
function runsBackend(history: unknown[]) {
  const calls: { method: string; url: string; auth: string | null; body?: unknown }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? "GET";
    const auth = new Headers(init?.headers).get("Authorization");
    calls.push({ method, url, auth, body: init?.body ? JSON.parse(String(init.body)) : undefined });
    if (url === "/api/auth/token") {
      return json(200, {
        access: "tok",
        access_expires_at: FUTURE,
        user: { id: 1, username: "o" },
      });
    }
    if (url === "/api/conversations/42")
      return json(200, { id: "42", title: "Hello", messages: history });
    if (url === "/api/runs" && method === "POST")
      return json(202, { runId: "r1", conversation_id: "42" });
    if (url === "/api/runs/r1/events") return runEvents(["Second ", "answer"]);
    return json(404, { detail: "Not found", code: "not_found" });
  });
  return { fetch: fetchMock as unknown as typeof fetch, calls };
}

async function renderView(conversationId: string | null, history: unknown[]) {
  const server = runsBackend(history);
  vi.stubGlobal("fetch", server.fetch);
  const session = new AuthSession({ setTimeout: () => 0, clearTimeout: () => {} });
  await session.login("o", "pw");
  const onFinished = vi.fn();
  render(
    <AuthProvider session={session}>
      <ChatView
        conversationId={conversationId}
        transport="background-sse"
        onConversationCreated={() => {}}
        onTurnFinished={onFinished}
      />
    </AuthProvider>,
  );
  return { server, onFinished };
}

const articles = (name: string) =>
  screen.queryAllByRole("article", { name }).map((a) => a.textContent);

describe("ChatView with a resumable transport", () => {
  it("keeps the run in sessionStorage while it streams and forgets it at the end", async () => {
    const { server, onFinished } = await renderView("42", HISTORY);
    await screen.findByText("First answer");
    const seen: (StoredRun | null)[] = [];
    const original = sessionStorage.setItem.bind(sessionStorage);
    vi.spyOn(Storage.prototype, "setItem").mockImplementation((key, value) => {
      original(key, value);
      if (key === RUN_STORAGE_KEY) seen.push(loadRun());
    });
    await userEvent.type(
      screen.getByRole("textbox", { name: "Message" }),
      "Second question{Enter}",
    );
    await screen.findByText("Second answer");
    await waitFor(() => expect(onFinished).toHaveBeenCalled());
    expect(seen[0]).toEqual({
      runId: "r1",
      transport: "background-sse",
      conversationId: "42",
      text: "Second question",
      baseline: 2,
    });
    expect(loadRun()).toBeNull();
    const start = server.calls.find((c) => c.url === "/api/runs");
    expect(start?.body).toEqual({ message: "Second question", conversation_id: "42" });
    expect(start?.auth).toBe("Bearer tok");
  });

  it("after a reload mid-reply: history, then the question and the replayed reply, once each", async () => {
    sessionStorage.setItem(
      RUN_STORAGE_KEY,
      JSON.stringify({
        runId: "r1",
        transport: "background-sse",
        conversationId: "42",
        text: "Second question",
        baseline: 2,
      }),
    );
    const { server, onFinished } = await renderView("42", HISTORY);
    await screen.findByText("Second answer");
    await waitFor(() => expect(onFinished).toHaveBeenCalled());
    expect(articles("Your message")).toEqual(["First question", "Second question"]);
    expect(articles("Assistant message")).toEqual(["First answer", "Second answer"]);
    // History first, then the run's events from the start; no new run (the
    // usage meter's reads aside).
    const calls = server.calls.filter((c) => c.url !== "/api/usage");
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "POST /api/auth/token",
      "GET /api/conversations/42",
      "GET /api/runs/r1/events",
    ]);
    expect(loadRun()).toBeNull();
  });

  it("does not resume a run whose turn the server has already saved", async () => {
    sessionStorage.setItem(
      RUN_STORAGE_KEY,
      JSON.stringify({
        runId: "r1",
        transport: "background-sse",
        conversationId: "42",
        text: "First question",
        baseline: 0,
      }),
    );
    const { server } = await renderView("42", HISTORY);
    await screen.findByText("First answer");
    expect(articles("Assistant message")).toEqual(["First answer"]);
    expect(server.calls.some((c) => c.url.startsWith("/api/runs"))).toBe(false);
    expect(loadRun()).toBeNull();
  });

  it("leaves another conversation's run alone", async () => {
    const other = {
      runId: "r1",
      transport: "background-sse",
      conversationId: "7",
      text: "Elsewhere",
      baseline: 0,
    };
    sessionStorage.setItem(RUN_STORAGE_KEY, JSON.stringify(other));
    const { server } = await renderView("42", HISTORY);
    await screen.findByText("First answer");
    expect(server.calls.some((c) => c.url.startsWith("/api/runs"))).toBe(false);
    expect(loadRun()).toEqual(other);
  });

  it("a run that is gone by the time the page reloads: the question stays, with Retry", async () => {
    sessionStorage.setItem(
      RUN_STORAGE_KEY,
      JSON.stringify({
        runId: "expired",
        transport: "background-sse",
        conversationId: "42",
        text: "Second question",
        baseline: 2,
      }),
    );
    await renderView("42", HISTORY);
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "The reply in progress could not be resumed.",
    );
    expect(articles("Your message")).toEqual(["First question", "Second question"]);
    expect(articles("Assistant message")).toEqual(["First answer"]);
    expect(screen.getByRole("button", { name: "Retry" })).toBeInTheDocument();
    expect(loadRun()).toBeNull();
  });

  it("Retry after a run found gone sends the question again, without replacing a turn", async () => {
    sessionStorage.setItem(
      RUN_STORAGE_KEY,
      JSON.stringify({
        runId: "expired",
        transport: "background-sse",
        conversationId: "42",
        text: "Second question",
        baseline: 2,
      }),
    );
    const { server } = await renderView("42", HISTORY);
    await userEvent.click(await screen.findByRole("button", { name: "Retry" }));
    await screen.findByText("Second answer");
    const starts = server.calls.filter((c) => c.url === "/api/runs" && c.method === "POST");
    // The first turn is stored and must stay: the gone run's turn never was.
    expect(starts.map((c) => c.body)).toEqual([
      { message: "Second question", conversation_id: "42" },
    ]);
    expect(articles("Your message")).toEqual(["First question", "Second question"]);
  });

  it("Regenerate over background-sse sends replace_last_turn in the run's start body", async () => {
    const { server } = await renderView("42", HISTORY);
    await userEvent.click(await screen.findByRole("button", { name: "Regenerate" }));
    await screen.findByText("Second answer");
    const starts = server.calls.filter((c) => c.url === "/api/runs" && c.method === "POST");
    expect(starts.map((c) => c.body)).toEqual([
      { message: "First question", conversation_id: "42", replace_last_turn: true },
    ]);
    expect(articles("Assistant message")).toEqual(["Second answer"]);
  });
});
