/**
 * Account endpoints (docs/api.md, "Accounts"): sessions, password change and
 * reset, email verification, TOTP two-factor. Bearer calls go through the
 * shared ApiClient (refresh-and-retry on 401); the calls made before login
 * (reset, verify) take a plain `fetch`.
 */
import type { ApiClient } from "../api/client";
import { apiErrorFrom } from "../auth/session";

export interface AccountSession {
  id: string;
  created_at: string;
  last_used_at: string | null;
  user_agent: string;
  ip: string;
  /** This browser's own session. */
  current: boolean;
}

export interface TotpSetup {
  secret: string;
  otpauth_url: string;
  /** The QR code of `otpauth_url`, as an SVG `data:` URI. */
  qr_svg: string;
}

export interface MfaStatus {
  enabled: boolean;
  /** A setup was started and not confirmed yet. */
  pending: boolean;
  recovery_codes_remaining: number;
}

export const listSessions = (api: ApiClient) =>
  api.get<{ results: AccountSession[] }>("/api/auth/sessions");

export const revokeSession = (api: ApiClient, id: string) =>
  api.delete(`/api/auth/sessions/${encodeURIComponent(id)}`);

export const changePassword = (api: ApiClient, currentPassword: string, newPassword: string) =>
  api.post<void>("/api/auth/password", {
    current_password: currentPassword,
    new_password: newPassword,
  });

export const mfaStatus = (api: ApiClient) => api.get<MfaStatus>("/api/auth/mfa/totp");

export const beginTotp = (api: ApiClient, currentPassword: string) =>
  api.post<TotpSetup>("/api/auth/mfa/totp", { current_password: currentPassword });

export const confirmTotp = (api: ApiClient, code: string) =>
  api.post<{ recovery_codes: string[] }>("/api/auth/mfa/totp/confirm", { code });

export const disableTotp = (api: ApiClient, currentPassword: string, code: string) =>
  api.request<void>("/api/auth/mfa/totp", {
    method: "DELETE",
    json: { current_password: currentPassword, code },
  });

export const resendVerification = (api: ApiClient) =>
  api.post<void>("/api/auth/email/verify/resend");

type Fetch = typeof fetch;

async function postAnonymous(fetchImpl: Fetch, path: string, body: unknown): Promise<void> {
  const response = await fetchImpl(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  if (!response.ok) throw await apiErrorFrom(response);
}

const defaultFetch: Fetch = (input, init) => globalThis.fetch(input, init);

export const requestPasswordReset = (email: string, fetchImpl: Fetch = defaultFetch) =>
  postAnonymous(fetchImpl, "/api/auth/password/reset", { email });

export const confirmPasswordReset = (
  input: { uid: string; token: string; new_password: string },
  fetchImpl: Fetch = defaultFetch,
) => postAnonymous(fetchImpl, "/api/auth/password/reset/confirm", input);

export const verifyEmail = (
  input: { uid: string; token: string },
  fetchImpl: Fetch = defaultFetch,
) => postAnonymous(fetchImpl, "/api/auth/email/verify", input);

/** Per-field messages of a 400 (`errors: {field: [messages]}`), joined per field. */
export function fieldMessages(data: unknown): Record<string, string> {
  const errors = (data as { errors?: unknown } | null)?.errors;
  const out: Record<string, string> = {};
  if (typeof errors !== "object" || errors === null) return out;
  for (const [field, messages] of Object.entries(errors)) {
    out[field] = Array.isArray(messages) ? messages.map(String).join(" ") : String(messages);
  }
  return out;
}
