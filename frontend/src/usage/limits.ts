/**
 * What to tell the user when a usage limit refused a message (HTTP 429 with
 * one of the codes below and `Retry-After`, or the same code and `retryAfter`
 * in a WebSocket error frame).
 */

export const LIMIT_CODES = [
  "concurrent_turns_exceeded",
  "turn_rate_exceeded",
  "token_quota_exceeded",
  "key_quota_exceeded",
] as const;

export type LimitCode = (typeof LIMIT_CODES)[number];

export function isLimitCode(code: unknown): code is LimitCode {
  return typeof code === "string" && (LIMIT_CODES as readonly string[]).includes(code);
}

/** The next midnight UTC after `now` (when daily quotas reset). */
export function nextUtcMidnight(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

/** When the limit lifts: `now` + the server's seconds, else what the code implies. */
export function resetTime(code: LimitCode, retryAfter: number | undefined, now: Date): Date {
  if (retryAfter !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0) {
    return new Date(now.getTime() + retryAfter * 1000);
  }
  if (code === "token_quota_exceeded" || code === "key_quota_exceeded") {
    return nextUtcMidnight(now);
  }
  return new Date(now.getTime() + (code === "concurrent_turns_exceeded" ? 1000 : 60_000));
}

/** A reset time in the user's zone: the weekday when it is not today, seconds when it is near. */
export function clock(at: Date, now: Date = new Date(), locale?: string): string {
  const sameDay = at.toDateString() === now.toDateString();
  return at.toLocaleString(locale, {
    ...(sameDay ? {} : { weekday: "short" }),
    hour: "2-digit",
    minute: "2-digit",
    ...(at.getTime() - now.getTime() < 120_000 ? { second: "2-digit" } : {}),
  });
}

/** One clear sentence, with the time (in the user's zone) the limit lifts. */
export function describeLimit(
  code: LimitCode,
  retryAfter: number | undefined,
  now: Date = new Date(),
  locale?: string,
): string {
  const at = clock(resetTime(code, retryAfter, now), now, locale);
  switch (code) {
    case "concurrent_turns_exceeded":
      return "Other replies of yours are still being generated. Wait for one to finish, then send again.";
    case "turn_rate_exceeded":
      return `You have sent too many messages in the last minute. You can send again at ${at}.`;
    case "token_quota_exceeded":
      return `You have used today's token allowance. It resets at ${at}.`;
    case "key_quota_exceeded":
      return `This API key has used today's token allowance. It resets at ${at}.`;
  }
}
