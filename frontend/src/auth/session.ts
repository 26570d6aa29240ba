/**
 * The browser's login session, outside React so the API client, the chat and
 * tests share one instance.
 *
 * - The access token lives in memory only; the refresh token is an HttpOnly
 *   cookie the server sets, so JavaScript never sees it.
 * - `refresh()` is single flight: however many callers ask at once (five
 *   requests that all got 401), one POST /api/auth/token/refresh goes out and
 *   everyone awaits it. Across tabs the Web Locks API serializes refreshes, so
 *   a second tab never presents a cookie the first one just rotated away
 *   (which the server treats as token reuse and answers by revoking the family).
 * - A refresh is scheduled shortly before `access_expires_at`.
 * - When a refresh is refused the session ends with a short reason that the
 *   login page shows. A 429 (the refresh endpoint is throttled) is not a
 *   refusal: the session is kept and the refresh tried again after
 *   `Retry-After`.
 */

export interface User {
  id: number | string;
  username: string;
  email?: string;
  /** The address was confirmed by following the emailed link. */
  email_verified?: boolean;
}

export type SessionStatus = "loading" | "authenticated" | "anonymous";

export interface SessionState {
  status: SessionStatus;
  user: User | null;
  token: string | null;
  /** ISO time the access token expires, when known. */
  expiresAt: string | null;
  /** Why the session ended, for the login page (null after a deliberate logout). */
  reason: string | null;
}

/** An error answer of our API: DRF's `{detail, code}`, plus per-field messages on 400. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly data: unknown;
  /** Seconds from a `Retry-After` header (429, 503), when the server sent one. */
  retryAfter: number | undefined;

  constructor(status: number, message: string, code?: string, data?: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.data = data;
  }

  /** Per-field messages of a 400, flattened: the server nests them under `errors`
   * (`{detail, code, errors: {field: ["msg"]}}`, docs/api.md); a flat body works too. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    if (typeof this.data !== "object" || this.data === null) return out;
    const nested = (this.data as { errors?: unknown }).errors;
    const fields = typeof nested === "object" && nested !== null ? nested : this.data;
    for (const [key, value] of Object.entries(fields)) {
      if (key === "detail" || key === "code") continue;
      if (Array.isArray(value)) out[key] = value.map(String).join(" ");
      else if (typeof value === "string") out[key] = value;
    }
    return out;
  }
}

export const SESSION_EXPIRED = "Your session has expired. Please sign in again.";

/** Read a fetch Response into an ApiError. */
export async function apiErrorFrom(response: Response): Promise<ApiError> {
  let data: unknown = null;
  try {
    data = await response.json();
  } catch {
    // An HTML error page: status alone.
  }
  const body = (typeof data === "object" && data !== null ? data : {}) as {
    detail?: unknown;
    code?: unknown;
  };
  const detail =
    typeof body.detail === "string"
      ? body.detail
      : `Request failed: ${response.status} ${response.statusText}`.trim();
  const error = new ApiError(
    response.status,
    detail,
    typeof body.code === "string" ? body.code : undefined,
    data,
  );
  error.retryAfter = retryAfterSeconds(response.headers.get("Retry-After"), Date.now());
  return error;
}

/** `Retry-After` as seconds: a number of seconds, or an HTTP date. */
export function retryAfterSeconds(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, (date - now) / 1000) : undefined;
}

/** How long to wait after a throttled refresh: `Retry-After`, else this. */
export const THROTTLED_RETRY_MS = 5_000;

function isThrottled(error: unknown): error is ApiError {
  return error instanceof ApiError && error.status === 429;
}

interface TokenResponse {
  access: string;
  access_expires_at: string;
  user?: User;
}

/**
 * The login's answer for a user with two-factor on: the password was right, and
 * `completeMfaLogin(mfaToken, code)` finishes it (the token lives 5 minutes).
 */
export class MfaRequiredError extends Error {
  readonly mfaToken: string;

  constructor(mfaToken: string) {
    super("Two-factor code required.");
    this.name = "MfaRequiredError";
    this.mfaToken = mfaToken;
  }
}

export interface AuthSessionOptions {
  /** Injectable for tests. */
  fetch?: typeof fetch;
  /** Timer functions (injectable for tests). */
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  /** Current time in ms (injectable for tests). */
  now?: () => number;
}

export type SessionListener = (state: SessionState) => void;

const COOKIE_HEADERS = { "X-Requested-With": "fetch" } as const;

/** When to refresh: 30 s before expiry for normal lifetimes, at 75% for very short ones. */
export function refreshDelay(msLeft: number): number {
  if (msLeft <= 0) return 0;
  return msLeft > 60_000 ? msLeft - 30_000 : Math.floor(msLeft * 0.75);
}

export class AuthSession {
  private state: SessionState = {
    status: "loading",
    user: null,
    token: null,
    expiresAt: null,
    reason: null,
  };
  private readonly listeners = new Set<SessionListener>();
  private inflight: Promise<string> | null = null;
  private restoring: Promise<void> | null = null;
  private timer: unknown = null;
  private readonly fetchImpl: typeof fetch;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly now: () => number;

  constructor(options: AuthSessionOptions = {}) {
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.setTimer = options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this.clearTimer =
      options.clearTimeout ??
      ((handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>));
    this.now = options.now ?? (() => Date.now());
  }

  getState(): SessionState {
    return this.state;
  }

  getToken(): string | null {
    return this.state.token;
  }

  subscribe(listener: SessionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private setState(patch: Partial<SessionState>): void {
    this.state = { ...this.state, ...patch };
    for (const listener of this.listeners) listener(this.state);
  }

  /**
   * On page load: a silent refresh through the cookie restores the session.
   * Idempotent. A throttled refresh (429) keeps the page loading and is tried
   * again after `Retry-After`.
   */
  restore(): Promise<void> {
    if (this.state.status !== "loading") return Promise.resolve();
    this.restoring ??= this.restoreUntilAnswered();
    return this.restoring;
  }

  private async restoreUntilAnswered(): Promise<void> {
    while (this.state.status === "loading") {
      try {
        await this.refresh();
        return;
      } catch (error) {
        if (isThrottled(error)) {
          await this.wait(this.throttledDelay(error));
          continue;
        }
        // No (valid) cookie: simply not logged in; no "expired" message.
        if (this.state.status === "loading") this.setState({ status: "anonymous", reason: null });
        return;
      }
    }
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.setTimer(resolve, ms);
    });
  }

  private throttledDelay(error: ApiError): number {
    return error.retryAfter !== undefined ? error.retryAfter * 1000 : THROTTLED_RETRY_MS;
  }

  async login(username: string, password: string): Promise<User> {
    const response = await this.fetchImpl("/api/auth/token", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", ...COOKIE_HEADERS },
      body: JSON.stringify({ username, password }),
    });
    if (!response.ok) throw await apiErrorFrom(response);
    const data = (await response.json()) as TokenResponse & { mfa_token?: string };
    if (data.mfa_token) throw new MfaRequiredError(data.mfa_token);
    const user = data.user ?? (await this.fetchMe(data.access));
    this.accept(data, user);
    return user;
  }

  /** The login's second step: the `mfa_token` and a TOTP or recovery code. */
  async completeMfaLogin(mfaToken: string, code: string): Promise<User> {
    const response = await this.fetchImpl("/api/auth/token/mfa", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", ...COOKIE_HEADERS },
      body: JSON.stringify({ mfa_token: mfaToken, code }),
    });
    if (!response.ok) throw await apiErrorFrom(response);
    const data = (await response.json()) as TokenResponse;
    const user = data.user ?? (await this.fetchMe(data.access));
    this.accept(data, user);
    return user;
  }

  async register(input: { username: string; password: string; email?: string }): Promise<User> {
    const response = await this.fetchImpl("/api/auth/register", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", ...COOKIE_HEADERS },
      body: JSON.stringify(input),
    });
    if (!response.ok) throw await apiErrorFrom(response);
    return this.login(input.username, input.password);
  }

  /** Revoke this session on the server (best effort) and forget the token. */
  async logout(): Promise<void> {
    this.cancelTimer();
    try {
      await this.fetchImpl("/api/auth/logout", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", ...COOKIE_HEADERS },
        body: "{}",
      });
    } catch {
      // Offline: the local session ends anyway; the cookie expires on its own.
    }
    this.clear(null);
  }

  /** End the session because the server no longer accepts it. */
  expire(reason: string = SESSION_EXPIRED): void {
    this.cancelTimer();
    this.clear(reason);
  }

  /**
   * Get a new access token through the refresh cookie. Concurrent callers share
   * one request. Rejects (and ends the session, when it had one) if refused.
   */
  refresh(): Promise<string> {
    if (!this.inflight) {
      this.inflight = this.withCrossTabLock(() => this.doRefresh()).finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  /**
   * For a request that got 401 with `usedToken`: when someone else already
   * refreshed meanwhile, use their token instead of rotating again.
   */
  async tokenAfterUnauthorized(usedToken: string | null): Promise<string> {
    const current = this.state.token;
    if (current && current !== usedToken && !this.inflight) return current;
    return this.refresh();
  }

  private async doRefresh(): Promise<string> {
    let response: Response;
    try {
      response = await this.fetchImpl("/api/auth/token/refresh", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", ...COOKIE_HEADERS },
        body: "{}",
      });
    } catch (error) {
      // Network trouble is not a verdict on the session: keep it, let the caller retry.
      throw error instanceof Error ? error : new Error(String(error));
    }
    if (!response.ok) {
      const error = await apiErrorFrom(response);
      if (isThrottled(error)) {
        // "Later", not "no": the cookie is still good. Keep the session and
        // refresh again when the server allows (restore() waits on its own).
        if (this.state.status === "authenticated") this.scheduleIn(this.throttledDelay(error));
        throw error;
      }
      if (response.status >= 400 && response.status < 500 && this.state.status !== "loading") {
        this.expire();
      }
      throw error;
    }
    const data = (await response.json()) as TokenResponse;
    const user = data.user ?? this.state.user ?? (await this.fetchMe(data.access));
    this.accept(data, user);
    return data.access;
  }

  private async withCrossTabLock<T>(fn: () => Promise<T>): Promise<T> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (!locks || typeof locks.request !== "function") return fn();
    return locks.request("chat-auth-refresh", fn) as Promise<T>;
  }

  private async fetchMe(access: string): Promise<User> {
    const response = await this.fetchImpl("/api/auth/me", {
      headers: { Authorization: `Bearer ${access}` },
      credentials: "same-origin",
    });
    if (!response.ok) throw await apiErrorFrom(response);
    return (await response.json()) as User;
  }

  private accept(data: TokenResponse, user: User): void {
    this.setState({
      status: "authenticated",
      user,
      token: data.access,
      expiresAt: data.access_expires_at ?? null,
      reason: null,
    });
    this.schedule();
  }

  private schedule(): void {
    const expiresAt = this.state.expiresAt ? Date.parse(this.state.expiresAt) : Number.NaN;
    if (!Number.isFinite(expiresAt)) {
      this.cancelTimer();
      return;
    }
    this.scheduleIn(refreshDelay(expiresAt - this.now()));
  }

  private scheduleIn(delay: number): void {
    this.cancelTimer();
    this.timer = this.setTimer(() => {
      this.timer = null;
      // A failure here is handled by refresh() itself (expire on refusal);
      // a network blip leaves the 401-retry path to try again later.
      this.refresh().catch(() => {});
    }, delay);
  }

  private cancelTimer(): void {
    if (this.timer !== null) {
      this.clearTimer(this.timer);
      this.timer = null;
    }
  }

  private clear(reason: string | null): void {
    this.setState({ status: "anonymous", user: null, token: null, expiresAt: null, reason });
  }
}
