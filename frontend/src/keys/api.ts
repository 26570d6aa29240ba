/** API key endpoints (docs/api.md, "Authentication, sessions and API keys"). */
import type { ApiClient } from "../api/client";

export interface ApiKey {
  id: string | number;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

/** The POST answer: the key row plus the plaintext key, shown once. */
export interface CreatedApiKey extends ApiKey {
  key: string;
}

export interface CreateApiKeyInput {
  name: string;
  /** The account password: minting a key needs it, not just a live session. */
  password: string;
  expires_at?: string;
  scopes?: string[];
  /** The key's own daily token limit (input + output, per UTC day); omitted: none. */
  daily_tokens?: number;
}

/** The scopes the server knows (accounts.models.Scope); "chat" is its default. */
export const SCOPES = [
  { value: "chat", label: "Chat and conversations" },
  { value: "keys:read", label: "List own API keys" },
] as const;

export const listKeys = (api: ApiClient) => api.get<{ results: ApiKey[] }>("/api/keys");

export const createKey = (api: ApiClient, input: CreateApiKeyInput) =>
  api.post<CreatedApiKey>("/api/keys", input);

export const revokeKey = (api: ApiClient, id: ApiKey["id"]) =>
  api.delete(`/api/keys/${encodeURIComponent(String(id))}`);
