/** Turning an API failure into one sentence for a form. */
import { ApiError } from "../auth/session";
import { fieldMessages } from "./api";

/** `messages` maps error codes to what the user should read; field messages come next. */
export function errorText(
  caught: unknown,
  messages: Record<string, string> = {},
  fallback = "Something went wrong. Try again.",
): string {
  if (!(caught instanceof ApiError)) return "Could not reach the server. Try again.";
  const known = caught.code ? messages[caught.code] : undefined;
  if (known) return known;
  const fields = Object.values(fieldMessages(caught.data));
  if (fields.length) return fields.join(" ");
  if (caught.status === 429) return caught.message;
  return caught.message || fallback;
}
