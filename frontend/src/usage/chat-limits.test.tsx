/** ChatView when a usage limit refuses a message, and the usage meter beside the composer. */
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../auth/auth-provider";
import { AuthSession } from "../auth/session";
import { ChatView } from "../chat/chat-view";
import type { ChatTransportChoice } from "../chat/transport-setting";

const FUTURE = "2999-01-01T00:00:00Z";

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

function usageBody(used: number, limit: number | null) {
  return {
    tokens: { used, limit, resets_at: "2026-12-02T00:00:00Z" },
    turns: { last_minute: 1, per_minute_limit: 20 },
    concurrent_turns: { active: 0, limit: 3 },
  };
}

/** /api/chat and /api/runs refuse with `code`; /api/usage reports `used` of 1000. */
function refusingBackend(code: string, retryAfter: string) {
  const calls: string[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    calls.push(`${init?.method ?? "GET"} ${url}`);
    if (url === "/api/auth/token") {
      return json(200, {
        access: "tok",
        access_expires_at: FUTURE,
        user: { id: 1, username: "o" },
      });
    }
    if (url === "/api/usage") return json(200, usageBody(1000, 1000));
    if (url === "/api/chat" || url === "/api/runs") {
      return json(429, { detail: "Limit reached.", code }, { "Retry-After": retryAfter });
    }
    return json(404, { detail: "Not found", code: "not_found" });
  });
  return { fetch: fetchMock as unknown as typeof fetch, calls };
}

async function renderChat(fetchImpl: typeof fetch, transport: ChatTransportChoice = "sse") {
  vi.stubGlobal("fetch", fetchImpl);
  const session = new AuthSession({ setTimeout: () => 0, clearTimeout: () => {} });
  await session.login("o", "pw");
  render(
    <AuthProvider session={session}>
      <ChatView
        conversationId={null}
        transport={transport}
        onConversationCreated={() => {}}
        onTurnFinished={() => {}}
      />
    </AuthProvider>,
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe("a message refused by a usage limit", () => {
  it.each(["sse", "background-sse"] as const)(
    "over %s: says when the quota resets, keeps the text in the composer, starts nothing",
    async (transport) => {
      const server = refusingBackend("token_quota_exceeded", "3600");
      await renderChat(server.fetch, transport);
      const box = screen.getByRole("textbox", { name: "Message" });
      await userEvent.type(box, "Summarise my notes{Enter}");

      const alert = await screen.findByRole("alert");
      expect(alert.textContent).toMatch(/You have used today's token allowance\. It resets at /);
      expect(box).toHaveValue("Summarise my notes");
      // The refused question is not left in the conversation as if it were asked.
      expect(screen.queryAllByRole("article", { name: "Your message" })).toEqual([]);
      expect(screen.queryByRole("button", { name: "Retry" })).toBeNull();
    },
  );

  it("the text is back in the box in the same render that shows the sentence", async () => {
    const server = refusingBackend("token_quota_exceeded", "3600");
    await renderChat(server.fetch);
    const box = screen.getByRole("textbox", { name: "Message" });
    // What the box holds the moment the alert is added to the page (a mutation
    // observer runs before any effect React schedules after that commit).
    let valueWhenShown: string | null = null;
    const observer = new MutationObserver(() => {
      if (valueWhenShown === null && screen.queryByRole("alert")) {
        valueWhenShown = (box as HTMLTextAreaElement).value;
      }
    });
    observer.observe(document.body, { childList: true, subtree: true });
    try {
      await userEvent.type(box, "Summarise my notes{Enter}");
      await screen.findByRole("alert");
      await waitFor(() => expect(valueWhenShown).not.toBeNull());
    } finally {
      observer.disconnect();
    }
    expect(valueWhenShown).toBe("Summarise my notes");
  });

  it("too many messages a minute: the sentence gives the time to send again", async () => {
    const server = refusingBackend("turn_rate_exceeded", "30");
    await renderChat(server.fetch);
    const box = screen.getByRole("textbox", { name: "Message" });
    await userEvent.type(box, "again{Enter}");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toMatch(/You can send again at \d\d:\d\d:\d\d/);
    expect(box).toHaveValue("again");
  });

  it("another 429 (not a usage limit) keeps the generic message", async () => {
    const server = refusingBackend("throttled", "5");
    await renderChat(server.fetch);
    await userEvent.type(screen.getByRole("textbox", { name: "Message" }), "hi{Enter}");
    expect((await screen.findByRole("alert")).textContent).toContain("Too many requests.");
  });
});

describe("the usage meter", () => {
  it("shows today's tokens against the limit and reads again after a turn", async () => {
    const server = refusingBackend("token_quota_exceeded", "3600");
    await renderChat(server.fetch);
    const meter = await screen.findByTestId("usage-meter");
    expect(meter.textContent).toContain(
      `Today: ${(1000).toLocaleString()} of ${(1000).toLocaleString()} tokens`,
    );
    expect(meter.querySelector("meter")?.getAttribute("value")).toBe("1000");
    await userEvent.type(screen.getByRole("textbox", { name: "Message" }), "hi{Enter}");
    await screen.findByRole("alert");
    await waitFor(() => expect(server.calls.filter((c) => c === "GET /api/usage")).toHaveLength(2));
  });

  it("says when there is no daily limit", async () => {
    const unlimited = vi.fn(async (input: RequestInfo | URL) => {
      const url = String(input);
      if (url === "/api/auth/token") {
        return json(200, {
          access: "t",
          access_expires_at: FUTURE,
          user: { id: 1, username: "o" },
        });
      }
      if (url === "/api/usage") return json(200, usageBody(12, null));
      return json(404, { detail: "Not found", code: "not_found" });
    });
    await renderChat(unlimited as unknown as typeof fetch);
    expect((await screen.findByTestId("usage-meter")).textContent).toBe(
      "Today: 12 tokens (no daily limit)",
    );
  });

  it("shows nothing when the numbers cannot be read", async () => {
    const failing = vi.fn(async (input: RequestInfo | URL) => {
      if (String(input) === "/api/auth/token") {
        return json(200, {
          access: "t",
          access_expires_at: FUTURE,
          user: { id: 1, username: "o" },
        });
      }
      return json(503, { detail: "Down", code: "usage_unavailable" });
    });
    await renderChat(failing as unknown as typeof fetch);
    await waitFor(() => expect(failing).toHaveBeenCalledWith("/api/usage", expect.anything()));
    expect(screen.queryByTestId("usage-meter")).toBeNull();
  });
});
