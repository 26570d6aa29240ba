import { describe, expect, it, vi } from "vitest";
import { AuthSession, refreshDelay, SESSION_EXPIRED } from "./session";

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

const USER = { id: 1, username: "owner" };

describe("AuthSession", () => {
  it("restores the session on load through the refresh cookie, then loads the user", async () => {
    const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input);
      if (url === "/api/auth/token/refresh") {
        expect(init?.method).toBe("POST");
        expect(new Headers(init?.headers).get("X-Requested-With")).toBe("fetch");
        return json(200, { access: "a1", access_expires_at: "2999-01-01T00:00:00Z" });
      }
      if (url === "/api/auth/me") {
        expect(new Headers(init?.headers).get("Authorization")).toBe("Bearer a1");
        return json(200, USER);
      }
      return json(404, {});
    });
    const session = new AuthSession({
      fetch: fetchMock as unknown as typeof fetch,
      setTimeout: () => 0,
    });
    expect(session.getState().status).toBe("loading");
    await Promise.all([session.restore(), session.restore()]);
    expect(session.getState()).toMatchObject({ status: "authenticated", token: "a1", user: USER });
    expect(
      fetchMock.mock.calls.filter((c) => String(c[0]) === "/api/auth/token/refresh"),
    ).toHaveLength(1);
  });

  it("without a valid cookie the visitor is simply anonymous, with no expiry message", async () => {
    const fetchFn = (async () =>
      json(401, { detail: "No cookie", code: "not_authenticated" })) as unknown as typeof fetch;
    const session = new AuthSession({ fetch: fetchFn });
    await session.restore();
    expect(session.getState()).toMatchObject({ status: "anonymous", token: null, reason: null });
  });

  it("schedules a refresh shortly before access_expires_at and refreshes when it fires", async () => {
    const timers: { fn: () => void; ms: number }[] = [];
    const now = Date.parse("2030-01-01T00:00:00Z");
    let issued = 0;
    const fetchFn = (async (input: RequestInfo | URL) => {
      const url = String(input);
      if (url === "/api/auth/token") {
        return json(200, { access: "a0", access_expires_at: "2030-01-01T00:05:00Z", user: USER });
      }
      issued += 1;
      return json(200, { access: `a${issued}`, access_expires_at: "2030-01-01T00:10:00Z" });
    }) as unknown as typeof fetch;
    const session = new AuthSession({
      fetch: fetchFn,
      now: () => now,
      setTimeout: (fn, ms) => {
        timers.push({ fn, ms });
        return timers.length;
      },
      clearTimeout: () => {},
    });
    await session.login("owner", "pw");
    expect(timers[0]?.ms).toBe(270_000); // 300 s lifetime, 30 s early
    timers[0]?.fn();
    await vi.waitFor(() => expect(session.getToken()).toBe("a1"));
    expect(session.getState().user).toEqual(USER);
    expect(timers).toHaveLength(2);
  });

  it("a refused refresh ends a live session with an explanation", async () => {
    const fetchFn = (async (input: RequestInfo | URL) =>
      String(input) === "/api/auth/token"
        ? json(200, { access: "a", access_expires_at: "2999-01-01T00:00:00Z", user: USER })
        : json(401, { detail: "Token reused", code: "token_reused" })) as unknown as typeof fetch;
    const session = new AuthSession({
      fetch: fetchFn,
      setTimeout: () => 0,
      clearTimeout: () => {},
    });
    await session.login("owner", "pw");
    await expect(session.refresh()).rejects.toMatchObject({ status: 401, code: "token_reused" });
    expect(session.getState()).toMatchObject({
      status: "anonymous",
      token: null,
      reason: SESSION_EXPIRED,
    });
  });

  it("a network failure during refresh keeps the session", async () => {
    let fail = false;
    const fetchFn = (async () => {
      if (fail) throw new TypeError("Failed to fetch");
      return json(200, { access: "a", access_expires_at: "2999-01-01T00:00:00Z", user: USER });
    }) as unknown as typeof fetch;
    const session = new AuthSession({
      fetch: fetchFn,
      setTimeout: () => 0,
      clearTimeout: () => {},
    });
    await session.login("owner", "pw");
    fail = true;
    await expect(session.refresh()).rejects.toThrow("Failed to fetch");
    expect(session.getState()).toMatchObject({ status: "authenticated", token: "a" });
  });

  it("a throttled refresh (429) keeps the session and tries again after Retry-After", async () => {
    const timers: { fn: () => void; ms: number }[] = [];
    let throttled = true;
    const refreshes: number[] = [];
    const fetchFn = (async (input: RequestInfo | URL) => {
      if (String(input) === "/api/auth/token") {
        return json(200, { access: "a0", access_expires_at: "2999-01-01T00:00:00Z", user: USER });
      }
      refreshes.push(refreshes.length);
      if (throttled) {
        return new Response(JSON.stringify({ detail: "Slow down", code: "throttled" }), {
          status: 429,
          headers: { "Content-Type": "application/json", "Retry-After": "7" },
        });
      }
      return json(200, { access: "a1", access_expires_at: "2999-01-01T00:00:00Z" });
    }) as unknown as typeof fetch;
    const session = new AuthSession({
      fetch: fetchFn,
      setTimeout: (fn, ms) => {
        timers.push({ fn, ms });
        return timers.length;
      },
      clearTimeout: () => {},
    });
    await session.login("owner", "pw");
    await expect(session.refresh()).rejects.toMatchObject({ status: 429, retryAfter: 7 });
    expect(session.getState()).toMatchObject({
      status: "authenticated",
      token: "a0",
      reason: null,
    });
    // The retry is scheduled at Retry-After, and when it fires the session renews.
    const retry = timers[timers.length - 1];
    expect(retry?.ms).toBe(7000);
    throttled = false;
    retry?.fn();
    await vi.waitFor(() => expect(session.getToken()).toBe("a1"));
    expect(refreshes).toHaveLength(2);
    expect(session.getState().status).toBe("authenticated");
  });

  it("a throttled refresh at page load keeps loading and restores after Retry-After", async () => {
    const waits: number[] = [];
    let answers = 0;
    const fetchFn = (async (input: RequestInfo | URL) => {
      if (String(input) === "/api/auth/me") return json(200, USER);
      answers += 1;
      if (answers === 1) {
        return new Response("{}", { status: 429, headers: { "Retry-After": "3" } });
      }
      return json(200, { access: "a1", access_expires_at: "2999-01-01T00:00:00Z" });
    }) as unknown as typeof fetch;
    const session = new AuthSession({
      fetch: fetchFn,
      setTimeout: (fn, ms) => {
        waits.push(ms);
        if (ms === 3000) queueMicrotask(fn);
        return 0;
      },
      clearTimeout: () => {},
    });
    const states: string[] = [];
    session.subscribe((state) => states.push(state.status));
    await session.restore();
    expect(waits).toContain(3000);
    expect(states).not.toContain("anonymous");
    expect(session.getState()).toMatchObject({ status: "authenticated", token: "a1" });
  });

  it("refreshes very short lifetimes at three quarters of their life", () => {
    expect(refreshDelay(5_000)).toBe(3_750);
    expect(refreshDelay(300_000)).toBe(270_000);
    expect(refreshDelay(-1)).toBe(0);
  });

  it("logout posts to the logout endpoint and clears the token without an expiry reason", async () => {
    const urls: string[] = [];
    const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
      urls.push(String(input));
      if (String(input) === "/api/auth/logout") {
        expect(new Headers(init?.headers).get("X-Requested-With")).toBe("fetch");
        return new Response(null, { status: 204 });
      }
      return json(200, { access: "a", access_expires_at: "2999-01-01T00:00:00Z", user: USER });
    }) as unknown as typeof fetch;
    const session = new AuthSession({
      fetch: fetchFn,
      setTimeout: () => 0,
      clearTimeout: () => {},
    });
    await session.login("owner", "pw");
    await session.logout();
    expect(urls).toContain("/api/auth/logout");
    expect(session.getState()).toMatchObject({
      status: "anonymous",
      token: null,
      user: null,
      reason: null,
    });
  });

  it("a failed login rejects with the server's code and leaves the visitor anonymous", async () => {
    const fetchFn = (async () =>
      json(401, {
        detail: "Invalid credentials",
        code: "invalid_credentials",
      })) as unknown as typeof fetch;
    const session = new AuthSession({ fetch: fetchFn });
    await expect(session.login("owner", "bad")).rejects.toMatchObject({
      status: 401,
      code: "invalid_credentials",
    });
    expect(session.getToken()).toBeNull();
  });

  it("register creates the account and then logs in", async () => {
    const urls: string[] = [];
    const fetchFn = (async (input: RequestInfo | URL) => {
      urls.push(String(input));
      if (String(input) === "/api/auth/register") return json(201, USER);
      return json(200, { access: "a", access_expires_at: "2999-01-01T00:00:00Z", user: USER });
    }) as unknown as typeof fetch;
    const session = new AuthSession({
      fetch: fetchFn,
      setTimeout: () => 0,
      clearTimeout: () => {},
    });
    await session.register({ username: "owner", password: "pw" });
    expect(urls).toEqual(["/api/auth/register", "/api/auth/token"]);
    expect(session.getState().status).toBe("authenticated");
  });
});
