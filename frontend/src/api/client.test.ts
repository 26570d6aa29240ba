import { describe, expect, it, vi } from "vitest";
import { AuthSession, SESSION_EXPIRED } from "../auth/session";
import { ApiError, createApiClient } from "./client";

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

const FUTURE = "2999-01-01T00:00:00Z";
const USER = { id: 1, username: "owner" };

/**
 * A fake backend: `/api/items` accepts only the token in `valid.token`;
 * refresh answers after a tick with the next token (or `refreshStatus`).
 */
function fakeBackend(options: { refreshStatus?: number; itemsAlways401?: boolean } = {}) {
  const valid = { token: "old" };
  let issued = 0;
  const calls: { url: string; auth: string | null }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const headers = new Headers(init?.headers);
    calls.push({ url, auth: headers.get("Authorization") });
    if (url === "/api/auth/token") {
      return json(200, { access: "old", access_expires_at: FUTURE, user: USER });
    }
    if (url === "/api/auth/token/refresh") {
      expect(headers.get("X-Requested-With")).toBe("fetch");
      expect(init?.credentials).toBe("same-origin");
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (options.refreshStatus) {
        return json(options.refreshStatus, { detail: "Token is invalid", code: "token_not_valid" });
      }
      issued += 1;
      valid.token = `new-${issued}`;
      return json(200, { access: valid.token, access_expires_at: FUTURE });
    }
    if (url.startsWith("/api/items")) {
      if (options.itemsAlways401 || headers.get("Authorization") !== `Bearer ${valid.token}`) {
        return json(401, { detail: "Token expired", code: "token_not_valid" });
      }
      return json(200, { url });
    }
    return json(404, { detail: "Not found", code: "not_found" });
  });
  const count = (url: string) => calls.filter((c) => c.url === url).length;
  return { fetch: fetchMock as unknown as typeof fetch, calls, valid, count };
}

async function loggedIn(backend: ReturnType<typeof fakeBackend>) {
  const session = new AuthSession({
    fetch: backend.fetch,
    setTimeout: () => 0,
    clearTimeout: () => {},
  });
  await session.login("owner", "pw");
  const api = createApiClient(session, backend.fetch);
  return { session, api };
}

describe("api client", () => {
  it("attaches the bearer token", async () => {
    const backend = fakeBackend();
    const { api } = await loggedIn(backend);
    await expect(api.get("/api/items/1")).resolves.toEqual({ url: "/api/items/1" });
    expect(backend.calls.at(-1)?.auth).toBe("Bearer old");
  });

  it("shares one refresh among 5 concurrent 401s and retries each request once", async () => {
    const backend = fakeBackend();
    const { api, session } = await loggedIn(backend);
    backend.valid.token = "rotated-on-server"; // the old access token is no longer accepted

    // The server would now accept the refreshed token only.
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => api.get<{ url: string }>(`/api/items/${n}`)),
    );

    expect(results.map((r) => r.url)).toEqual([1, 2, 3, 4, 5].map((n) => `/api/items/${n}`));
    expect(backend.count("/api/auth/token/refresh")).toBe(1);
    const itemCalls = backend.calls.filter((c) => c.url.startsWith("/api/items"));
    expect(itemCalls).toHaveLength(10); // 5 first tries + 5 retries, no more
    expect(itemCalls.filter((c) => c.auth === "Bearer new-1")).toHaveLength(5);
    expect(session.getToken()).toBe("new-1");
  });

  it("a 401 that arrives after someone else refreshed reuses their token", async () => {
    const backend = fakeBackend();
    const { api, session } = await loggedIn(backend);
    backend.valid.token = "rotated-on-server";
    await session.refresh(); // token is now new-1
    // Simulate a request that was sent with the stale token.
    const stale = await session.tokenAfterUnauthorized("old");
    expect(stale).toBe("new-1");
    await api.get("/api/items/1");
    expect(backend.count("/api/auth/token/refresh")).toBe(1);
  });

  it("retries only once: a second 401 rejects and ends the session", async () => {
    const backend = fakeBackend({ itemsAlways401: true });
    const { api, session } = await loggedIn(backend);
    const listener = vi.fn();
    session.subscribe(listener);

    await expect(api.get("/api/items/1")).rejects.toMatchObject({ status: 401 });

    expect(backend.calls.filter((c) => c.url.startsWith("/api/items"))).toHaveLength(2);
    expect(backend.count("/api/auth/token/refresh")).toBe(1);
    expect(session.getState()).toMatchObject({ status: "anonymous", token: null, user: null });
    expect(session.getState().reason).toBe(SESSION_EXPIRED);
  });

  it("logs out with an explanation when the refresh is refused", async () => {
    const backend = fakeBackend({ refreshStatus: 401 });
    const { api, session } = await loggedIn(backend);
    backend.valid.token = "rotated-on-server";
    const states: string[] = [];
    session.subscribe((s) => states.push(s.status));

    const outcomes = await Promise.allSettled([api.get("/api/items/1"), api.get("/api/items/2")]);

    for (const outcome of outcomes) {
      expect(outcome.status).toBe("rejected");
      const reason = (outcome as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(ApiError);
      expect(reason.status).toBe(401);
    }
    expect(backend.count("/api/auth/token/refresh")).toBe(1);
    // No retry with a token that does not exist.
    expect(backend.calls.filter((c) => c.url.startsWith("/api/items"))).toHaveLength(2);
    expect(session.getState()).toMatchObject({
      status: "anonymous",
      token: null,
      reason: SESSION_EXPIRED,
    });
    expect(states).toContain("anonymous");
  });

  it("a throttled refresh (429) fails the request but keeps the session", async () => {
    const backend = fakeBackend({ refreshStatus: 429 });
    const { api, session } = await loggedIn(backend);
    backend.valid.token = "rotated-on-server";

    await expect(api.get("/api/items/1")).rejects.toMatchObject({ status: 429 });
    expect(backend.count("/api/auth/token/refresh")).toBe(1);
    expect(session.getState()).toMatchObject({
      status: "authenticated",
      token: "old",
      reason: null,
    });
  });

  it("passes other errors through with status and code, without refreshing", async () => {
    const backend = fakeBackend();
    const { api } = await loggedIn(backend);
    await expect(api.get("/api/missing")).rejects.toMatchObject({
      status: 404,
      code: "not_found",
      message: "Not found",
    });
    expect(backend.count("/api/auth/token/refresh")).toBe(0);
  });
});
