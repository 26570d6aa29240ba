/** A scripted backend for the account pages' tests: `route(method, path)` answers. */
import { vi } from "vitest";
import { AuthSession } from "../auth/session";

export function json(status: number, body?: unknown): Response {
  if (body === undefined) return new Response(null, { status });
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

export interface Call {
  method: string;
  url: string;
  body: unknown;
  auth: string | null;
}

export type Handler = (call: Call) => Response | Promise<Response>;

const FUTURE = "2999-01-01T00:00:00Z";

/** Stubs global fetch; `/api/auth/token` logs "owner" in unless a handler says otherwise. */
export function fakeBackend(handlers: Record<string, Handler>) {
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const call: Call = {
      method: init?.method ?? "GET",
      url: String(input),
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
      auth: new Headers(init?.headers).get("Authorization"),
    };
    calls.push(call);
    const handler = handlers[`${call.method} ${call.url}`];
    if (handler) return handler(call);
    if (call.url === "/api/auth/token") {
      return json(200, {
        access: "tok",
        access_expires_at: FUTURE,
        user: { id: 1, username: "owner", email: "owner@example.com", email_verified: true },
      });
    }
    return json(404, { detail: "Not found.", code: "not_found" });
  });
  vi.stubGlobal("fetch", fetchMock);
  const sent = (method: string, url: string) =>
    calls.filter((c) => c.method === method && c.url === url);
  return { calls, sent };
}

/** A session logged in through the fake backend (no timers). */
export async function loggedInSession(): Promise<AuthSession> {
  const session = new AuthSession({ setTimeout: () => 0, clearTimeout: () => {} });
  await session.login("owner", "pw");
  return session;
}
