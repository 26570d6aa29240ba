/** The API-keys page's optional daily token limit (POST /api/keys `daily_tokens`). */
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../auth/auth-provider";
import { AuthSession } from "../auth/session";
import { KeysPage } from "../keys/keys-page";

const FUTURE = "2999-01-01T00:00:00Z";

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

function keysBackend() {
  const created: unknown[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    if (url === "/api/auth/token") {
      return json(200, { access: "t", access_expires_at: FUTURE, user: { id: 1, username: "o" } });
    }
    if (url === "/api/keys" && init?.method === "POST") {
      const body = JSON.parse(String(init.body));
      created.push(body);
      if (body.daily_tokens !== undefined && !Number.isSafeInteger(body.daily_tokens)) {
        return json(400, {
          detail: "Invalid input.",
          code: "invalid",
          errors: { daily_tokens: ["A valid integer is required."] },
        });
      }
      return json(201, {
        id: 1,
        name: body.name,
        prefix: "sk_abc",
        scopes: ["chat"],
        created_at: FUTURE,
        last_used_at: null,
        expires_at: null,
        revoked_at: null,
        key: "sk_abc.secret",
      });
    }
    if (url === "/api/keys") return json(200, { results: [] });
    return json(404, { detail: "Not found", code: "not_found" });
  });
  return { fetch: fetchMock as unknown as typeof fetch, created };
}

/** The name (and the password, where the page asks for it to create a key). */
async function fillKey(name: string) {
  await userEvent.type(screen.getByLabelText("Name"), name);
  const password = screen.queryByLabelText("Your password");
  if (password) await userEvent.type(password, "pw");
}

async function renderKeys() {
  const server = keysBackend();
  vi.stubGlobal("fetch", server.fetch);
  const session = new AuthSession({ setTimeout: () => 0, clearTimeout: () => {} });
  await session.login("o", "pw");
  render(
    <AuthProvider session={session}>
      <KeysPage />
    </AuthProvider>,
  );
  return server;
}

afterEach(() => vi.unstubAllGlobals());

describe("creating a key with a daily token limit", () => {
  it("sends daily_tokens when given, and nothing when left empty", async () => {
    const server = await renderKeys();
    await fillKey("capped");
    await userEvent.type(screen.getByLabelText("Daily token limit (optional)"), "50000");
    await userEvent.click(screen.getByRole("button", { name: "Create key" }));
    await waitFor(() => expect(server.created).toHaveLength(1));
    expect(server.created[0]).toMatchObject({ name: "capped", daily_tokens: 50000 });
    await waitFor(() =>
      expect(screen.getByLabelText("Daily token limit (optional)")).toHaveValue(null),
    );

    await fillKey("open");
    await userEvent.click(screen.getByRole("button", { name: "Create key" }));
    await waitFor(() => expect(server.created).toHaveLength(2));
    expect(server.created[1]).toMatchObject({ name: "open" });
    expect(server.created[1]).not.toHaveProperty("daily_tokens");
  });

  it("shows the server's message for a refused limit, and creates nothing", async () => {
    const server = await renderKeys();
    await fillKey("bad");
    await userEvent.type(screen.getByLabelText("Daily token limit (optional)"), "1e30");
    await userEvent.click(screen.getByRole("button", { name: "Create key" }));
    await waitFor(() => expect(server.created).toHaveLength(1));
    expect((await screen.findByRole("alert")).textContent).toContain(
      "A valid integer is required.",
    );
    expect(screen.queryByText("sk_abc.secret")).toBeNull();
  });
});
