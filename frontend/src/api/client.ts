/**
 * The one client for every non-stream JSON call. It attaches
 * `Authorization: Bearer <access>`; on 401 it gets a fresh token (shared with
 * every other caller that got 401 at the same time) and retries once. When the
 * refresh is refused, or the retry is still 401, the session ends and the app
 * goes to the login page with a short explanation. A throttled refresh (429)
 * only fails this request: the session is kept.
 */
import { ApiError, type AuthSession, apiErrorFrom, SESSION_EXPIRED } from "../auth/session";

export { ApiError };

export interface RequestOptions {
  method?: string;
  /** Sent as a JSON body. */
  json?: unknown;
  signal?: AbortSignal;
}

export interface ApiClient {
  request<T>(path: string, options?: RequestOptions): Promise<T>;
  get<T>(path: string, signal?: AbortSignal): Promise<T>;
  post<T>(path: string, json?: unknown): Promise<T>;
  patch<T>(path: string, json: unknown): Promise<T>;
  delete(path: string): Promise<void>;
}

export function createApiClient(session: AuthSession, fetchImpl?: typeof fetch): ApiClient {
  const doFetch =
    fetchImpl ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  const send = (path: string, options: RequestOptions, token: string | null) => {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (options.json !== undefined) headers["Content-Type"] = "application/json";
    return doFetch(path, {
      method: options.method ?? "GET",
      headers,
      body: options.json !== undefined ? JSON.stringify(options.json) : undefined,
      credentials: "same-origin",
      signal: options.signal,
    });
  };

  async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const usedToken = session.getToken();
    let response = await send(path, options, usedToken);
    if (response.status === 401) {
      let fresh: string;
      try {
        fresh = await session.tokenAfterUnauthorized(usedToken);
      } catch (error) {
        if (error instanceof ApiError && error.status === 429) {
          // The refresh is throttled: the session stays and renews itself
          // after Retry-After; this request fails with the 429.
          throw error;
        }
        if (error instanceof ApiError) {
          // Refused: refresh() already ended the session (or there was none).
          if (session.getState().status === "authenticated") session.expire();
          throw new ApiError(401, SESSION_EXPIRED, error.code ?? "session_expired");
        }
        throw error;
      }
      response = await send(path, options, fresh);
      if (response.status === 401) {
        // A brand-new token is refused too: the session is unusable.
        const error = await apiErrorFrom(response);
        session.expire();
        throw error;
      }
    }
    if (!response.ok) throw await apiErrorFrom(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  return {
    request,
    get: (path, signal) => request(path, { signal }),
    post: (path, json) => request(path, { method: "POST", json }),
    patch: (path, json) => request(path, { method: "PATCH", json }),
    delete: (path) => request(path, { method: "DELETE" }),
  };
}
