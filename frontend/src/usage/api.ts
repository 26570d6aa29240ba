/** `GET /api/usage`: the caller's own numbers (docs/api.md, "Usage, quotas and limits"). */
import type { ApiClient } from "../api/client";

export interface UsageSummary {
  tokens: { used: number; limit: number | null; resets_at: string };
  turns: { last_minute: number; per_minute_limit: number };
  concurrent_turns: { active: number; limit: number };
  /** Only when the request used an API key (never from the browser). */
  key?: { id: number; used: number; limit: number | null };
}

export const getUsage = (api: ApiClient, signal?: AbortSignal) =>
  api.get<UsageSummary>("/api/usage", signal);
