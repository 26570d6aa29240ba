import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../auth/auth-provider";
import { AuthSession, SESSION_EXPIRED } from "../auth/session";
import { ChatView } from "./chat-view";

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

  it("a refused refresh ends the session with an explanation instead of looping", async () => {
    const { server, session } = await setup({ refuseRefresh: true });
    server.valid.token = "rotated";
    await userEvent.type(screen.getByRole("textbox", { name: "Message" }), "Hello{Enter}");
    await waitFor(() => expect(session.getState().status).toBe("anonymous"));
    expect(session.getState().reason).toBe(SESSION_EXPIRED);
    expect(server.chatCalls).toHaveLength(1);
  });
});
