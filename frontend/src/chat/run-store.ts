/**
 * The reply in progress of this tab, kept in `sessionStorage` so a reload can
 * pick it up: the resumable transports report the run id (`onRunIdChange`),
 * and the chat view reads it back (`getResumeKey`) once the conversation's
 * history has loaded.
 *
 * One entry per tab: a tab streams one reply at a time. Besides the run id we
 * keep what the reloaded page needs to show the turn without duplicating it:
 * the conversation, the user's text (the server saves the turn only when it
 * ends) and how many messages came before it.
 */
import type { ContentPart, Message } from "../stream-chat";

export const RUN_STORAGE_KEY = "chat.activeRun";

export interface StoredRun {
  runId: string;
  transport: "background-sse" | "websocket";
  /** The conversation, or null while a new chat has not learned its id yet. */
  conversationId: string | null;
  /** The user's message of this turn. */
  text: string;
  /** Number of messages shown before this turn's user message. */
  baseline: number;
}

function storage(): Storage | null {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}

export function loadRun(): StoredRun | null {
  try {
    const raw = storage()?.getItem(RUN_STORAGE_KEY);
    if (!raw) return null;
    const data = JSON.parse(raw) as Partial<StoredRun>;
    if (
      typeof data.runId !== "string" ||
      (data.transport !== "background-sse" && data.transport !== "websocket") ||
      typeof data.text !== "string"
    ) {
      return null;
    }
    return {
      runId: data.runId,
      transport: data.transport,
      conversationId: typeof data.conversationId === "string" ? data.conversationId : null,
      text: data.text,
      baseline: typeof data.baseline === "number" ? data.baseline : 0,
    };
  } catch {
    return null;
  }
}

export function saveRun(run: StoredRun): void {
  try {
    storage()?.setItem(RUN_STORAGE_KEY, JSON.stringify(run));
  } catch {
    // No storage: a reload simply cannot resume.
  }
}

/** Forget the stored run, only if it is still `runId` (another view may have started a newer one). */
export function clearRun(runId?: string): void {
  const current = loadRun();
  if (runId !== undefined && current && current.runId !== runId) return;
  try {
    storage()?.removeItem(RUN_STORAGE_KEY);
  } catch {
    // Nothing to clear.
  }
}

function textOf(message: Message<ContentPart>): string {
  return message.parts.map((part) => (part.type === "text" ? part.text : "")).join("");
}

/** Where the stored turn's question sits in `history` (after the baseline), or -1. */
function questionIndex(history: Message<ContentPart>[], run: StoredRun): number {
  const from = Math.max(0, run.baseline);
  const found = history
    .slice(from)
    .findIndex((message) => message.role === "user" && textOf(message) === run.text);
  return found < 0 ? -1 : from + found;
}

/**
 * Whether `history` (from the server) already holds the stored turn, ended:
 * the run finished while we were away, so resuming would show it twice. The
 * server stores a turn's question when the turn starts, and its reply carries
 * `status: "running"` until it ends: such a turn is still to be resumed.
 */
export function turnIsSaved(history: Message<ContentPart>[], run: StoredRun): boolean {
  const index = questionIndex(history, run);
  if (index < 0) return false;
  const reply = history[index + 1] as { status?: unknown } | undefined;
  return reply?.status !== "running";
}

/** The history without the stored turn (the live one), which the resumed run replays. */
export function withoutLiveTurn(
  history: Message<ContentPart>[],
  run: StoredRun,
): Message<ContentPart>[] {
  const index = questionIndex(history, run);
  return index < 0 ? history : history.slice(0, index);
}
