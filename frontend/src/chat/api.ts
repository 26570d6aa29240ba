/** Conversation endpoints (docs/api.md describes them). */
import type { ApiClient } from "../api/client";
import type { ContentPart, Message } from "../stream-chat";

export interface ConversationSummary {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
}

export interface ConversationDetail {
  id: string;
  title: string;
  messages: Message<ContentPart>[];
}

export interface Page<T> {
  results: T[];
  next: string | null;
  previous: string | null;
}

export const listConversations = (api: ApiClient, url = "/api/conversations") =>
  api.get<Page<ConversationSummary>>(url);

export const getConversation = (api: ApiClient, id: string, signal?: AbortSignal) =>
  api.get<ConversationDetail>(`/api/conversations/${encodeURIComponent(id)}`, signal);

export const renameConversation = (api: ApiClient, id: string, title: string) =>
  api.patch<ConversationDetail>(`/api/conversations/${encodeURIComponent(id)}`, { title });

export const deleteConversation = (api: ApiClient, id: string) =>
  api.delete(`/api/conversations/${encodeURIComponent(id)}`);
