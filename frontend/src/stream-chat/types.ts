/**
 * Public types of our `useStreamChat` library. They mirror the public API of
 * `@deltakit/react` 0.2.8 (same names, same fields), so code written for that
 * package works here by changing only the import. Types the package does not
 * have (our server's extra events, the error shape, extension options) live
 * here too but are not exported from `index.ts`: the app imports them from
 * this file.
 */
import type { Dispatch, RefObject, SetStateAction } from "react";

/** Plain reply or prompt text (markdown for assistant messages). */
export interface TextPart {
  type: "text";
  /** The text accumulated so far. */
  text: string;
}

/** A tool the agent called, with its result once it arrived. */
export interface ToolCallPart {
  type: "tool_call";
  /** Name of the tool as the agent knows it. */
  tool_name: string;
  /** The call's arguments: a JSON string, as sent by the model. */
  argument: string;
  /** Pairs the call with its `tool_result` event. */
  callId?: string;
  /** The tool's output, once the `tool_result` event arrived. */
  result?: string;
}

/** Reasoning summary text, when the model provides one. */
export interface ReasoningPart {
  type: "reasoning";
  /** The reasoning text accumulated so far. */
  text: string;
}

/** Every part the default message shape can hold. */
export type ContentPart = TextPart | ToolCallPart | ReasoningPart;

/** One chat message, in history and in client state. */
export interface Message<TPart = ContentPart> {
  /** Stable id (server id for history, a client id for new messages). */
  id: string;
  /** Who wrote it. */
  role: "user" | "assistant";
  /** The message's content, in order. */
  parts: TPart[];
}

/** A chunk of reply text. */
export interface TextDeltaEvent {
  type: "text_delta";
  /** Text to append to the current assistant message. */
  delta: string;
}

/** The agent calls a tool. */
export interface ToolCallEvent {
  type: "tool_call";
  /** Name of the tool. */
  tool_name: string;
  /** The arguments as a JSON string. */
  argument: string;
  /** Pairs the call with its later `tool_result`. */
  call_id?: string;
}

/** A tool's output. */
export interface ToolResultEvent {
  type: "tool_result";
  /** The `call_id` of the matching `tool_call`. */
  call_id: string;
  /** The tool's output. */
  output: string;
}

/** The events `@deltakit/react` itself knows about. */
export type SSEEvent = TextDeltaEvent | ToolCallEvent | ToolResultEvent;

/** First event of a stream: the conversation the turn belongs to. */
export interface ConversationEvent {
  type: "conversation";
  /** The conversation id (new chats learn it here). */
  id: string;
  /** The conversation's current title. */
  title: string;
}

/** Reasoning summary text (sent in chunks). */
export interface ReasoningEvent {
  type: "reasoning";
  /** Text to append to the current reasoning part. */
  text: string;
}

/** Token usage at the end of a completed turn. */
export interface UsageEvent {
  type: "usage";
  /** Tokens the model read. */
  input_tokens: number;
  /** Tokens the model wrote. */
  output_tokens: number;
}

/** A failure after the stream began; `[DONE]` follows. */
export interface StreamErrorEvent {
  type: "error";
  /** Stable machine-readable code. */
  code: string;
  /** Human-readable explanation. */
  message: string;
  /** Whether sending the same message again may succeed. */
  retryable: boolean;
}

/** Every event our server sends (docs/api.md, "The stream"). */
export type ServerEvent =
  | SSEEvent
  | ConversationEvent
  | ReasoningEvent
  | UsageEvent
  | StreamErrorEvent;

/** Helpers handed to `onEvent`; they act on the current assistant message. */
export interface EventHelpers<TPart = ContentPart> {
  /** Append text to the last text part (or start one) of the assistant message. */
  appendText: (delta: string) => void;
  /** Append a part to the assistant message. */
  appendPart: (part: TPart) => void;
  /** Replace or update the whole message list. */
  setMessages: Dispatch<SetStateAction<Message<TPart>[]>>;
}

/**
 * Error for a non-2xx chat response. `message` reads
 * `Chat request failed: <status> <statusText>` so `message.includes("401")`
 * works; `status` and (for our JSON errors) `code` carry the details.
 */
export interface ChatRequestError extends Error {
  /** HTTP status of the response. */
  status: number;
  /** The `code` of a `{detail, code}` JSON error body, when there was one. */
  code?: string;
  /** The `detail` of a `{detail, code}` JSON error body, when there was one. */
  detail?: string;
  /** Seconds from a `Retry-After` header (429), when present. */
  retryAfter?: number;
}

/** What a transport gets to drive the hook's state. */
export interface ChatTransportContext<TPart = ContentPart, TEvent = SSEEvent> {
  /** Deliver one event to `onEvent` (or the default handler). */
  emit: (event: TEvent) => void;
  /** The stream ended normally. */
  finish: () => void;
  /** The run failed; aborts (AbortError) are ignored. */
  fail: (error: Error) => void;
  /** Make sure an assistant message exists to receive events (used on resume). */
  ensureAssistantMessage: () => void;
  /** The messages as they are right now. */
  getMessages: () => Message<TPart>[];
  /** Record the resumable run id (`null` when the run is over). */
  setRunId: (runId: string | null) => void;
}

/** A started run, as a transport returns it. */
export interface ChatTransportRun {
  /** Id of a resumable run, when the transport has one. */
  runId?: string;
  /** Abort the run (and ask the server to cancel it, when it can). */
  stop?: () => void;
  /** Disconnect without cancelling (called on unmount). */
  close?: () => void;
}

/** Arguments of `ChatTransport.start`. */
export interface TransportStartArgs<TPart = ContentPart, TEvent = SSEEvent> {
  /** The user's text. */
  message: string;
  /** Callbacks into the hook. */
  context: ChatTransportContext<TPart, TEvent>;
}

/** Arguments of `ChatTransport.resume`. */
export interface TransportResumeArgs<TPart = ContentPart, TEvent = SSEEvent> {
  /** The run to reattach to. */
  runId: string;
  /**
   * Extension: the last event already shown; the built-in transports replay
   * from the start of the run when it is absent.
   */
  lastEventId?: string;
  /** Callbacks into the hook. */
  context: ChatTransportContext<TPart, TEvent>;
}

/** A custom transport object (or one of the built-ins). */
export interface ChatTransport<TPart = ContentPart, TEvent = SSEEvent> {
  /** Start a run for one user message. */
  start: (args: TransportStartArgs<TPart, TEvent>) => ChatTransportRun | undefined;
  /** Reattach to a run that is still going (resumable transports only). */
  resume?: (args: TransportResumeArgs<TPart, TEvent>) => ChatTransportRun | undefined;
  /**
   * Extension: a run id to resume at mount when `transportOptions` names none
   * (`backgroundSSE.runId` / `getResumeKey()`, then `websocket.runId` /
   * `getResumeKey()` come first, as in `@deltakit/react`).
   */
  runId?: string | null;
}

/** Header values, or a function returning them (called at every send). */
export type HeadersInput = Record<string, string> | (() => Record<string, string>);

/** Extra body fields, or a function returning them (called at every send). */
export type BodyInput = Record<string, unknown> | (() => Record<string, unknown>);

/** Config of the built-in `sse` transport. */
export interface DirectSSETransportOptions {
  /** The POST endpoint that answers with `text/event-stream`. */
  api: string;
  /** Extra request headers (read at every send). */
  headers?: HeadersInput;
  /** Extra body fields beside `message` (read at every send). */
  body?: BodyInput;
  /** HTTP method, `POST` by default. */
  method?: string;
  /** The fetch to use (injectable for tests); `globalThis.fetch` by default. */
  fetch?: typeof fetch;
  /** Extension: refresh credentials after a 401 answer and send the message again, once. */
  onAuthError?: AuthErrorHandler;
}

/** Reconnection policy of the resumable transports (an extension). */
export interface ReconnectPolicy {
  /** Reconnections in a row without receiving an event before the run fails (default 5). */
  attempts?: number;
  /** First delay in ms, doubled at each further attempt (default 500). */
  baseDelayMs?: number;
  /** Upper bound of one delay in ms (default 8000). */
  maxDelayMs?: number;
}

/**
 * Called when the server refuses the credentials in the middle of a run (HTTP
 * 401, WebSocket close 4401). Return a promise that resolves once fresh
 * credentials are in place (e.g. after a token refresh): the transport then
 * reconnects once, re-reading headers/protocols, and resumes the run. Reject
 * (or leave the option out) and the run fails with a 401 error. An extension of
 * the `@deltakit/react` API.
 */
export type AuthErrorHandler = (error: Error) => unknown | Promise<unknown>;

/** A run URL: a template where `:runId` is replaced, or a function of the run id. */
export type RunUrl = string | ((runId: string) => string);

/** Config of the `background-sse` transport: start a run, then follow its resumable event stream. */
export interface BackgroundSSETransportOptions {
  /** Endpoint that starts a run and answers with JSON holding its id (e.g. `{runId}`). */
  startApi: string;
  /** The run's SSE event stream; every event should carry an `id:` for `Last-Event-ID`. */
  eventsApi: RunUrl;
  /** When set, `stop()` POSTs here (with `startHeaders`) to cancel the run on the server. */
  cancelApi?: RunUrl;
  /** Accepted for API compatibility; not used (the events stream says everything we need). */
  statusApi?: RunUrl;
  /** Headers of the start POST and the cancel POST (read at every request). */
  startHeaders?: HeadersInput;
  /** Extra fields of the start body beside `message` (read at every send). */
  startBody?: BodyInput;
  /** Headers of every events request (read at every connection, so a refreshed token is used). */
  eventHeaders?: HeadersInput;
  /** Method of the start request, `POST` by default. */
  startMethod?: string;
  /** Picks the run id out of the start response; default `response.runId ?? response.job_id`. */
  resolveRunId?: (response: unknown) => string | null | undefined;
  /** A run to resume when the hook mounts. */
  runId?: string | null;
  /** Returns a run id to resume when the hook mounts (e.g. read from `sessionStorage`); used when `runId` is not set. */
  getResumeKey?: () => string | null | undefined;
  /** The run id changed: a new run started (id) or it ended, failed or was stopped (`null`). Not called on unmount. */
  onRunIdChange?: (runId: string | null) => void;
  /** The fetch to use (injectable for tests); `globalThis.fetch` by default. */
  fetch?: typeof fetch;
  /** Extension: reconnection policy when the event stream drops before `[DONE]`. */
  reconnect?: ReconnectPolicy;
  /** Extension: refresh credentials after a 401 (start or events) and retry once. */
  onAuthError?: AuthErrorHandler;
}

/** Config of the `websocket` transport: one socket per run, resumable by run id. */
export interface WebSocketTransportOptions {
  /** Socket URL (`/ws/chat` is resolved against the page, http→ws, https→wss), or a function of the run id (`null` for a new run). */
  url: string | ((runId: string | null) => string);
  /** When set, `stop()` also POSTs here (besides sending the `{type:"stop"}` frame). */
  cancelUrl?: RunUrl;
  /** Subprotocols; a function is called at every connect, so a refreshed token is used (extension). */
  protocols?: string | string[] | (() => string | string[]);
  /** Extra fields of the outbound message frame beside `message` (read at every send). */
  body?: BodyInput;
  /** A run to resume when the hook mounts. */
  runId?: string | null;
  /** Returns a run id to resume when the hook mounts; used when `runId` is not set. */
  getResumeKey?: () => string | null | undefined;
  /** The run id changed: learned from a frame (id), or the run ended, failed or was stopped (`null`). Not called on unmount. */
  onRunIdChange?: (runId: string | null) => void;
  /** Turns a frame's `data` into an event, an array of events, or `null` to skip; default `JSON.parse`. */
  parseMessage?: (data: unknown) => unknown;
  /** Picks the run id out of an inbound event; default `event[runIdKey]`. */
  resolveRunId?: (frame: unknown) => string | null | undefined;
  /** Encodes an outbound frame; default `JSON.stringify`. */
  serializeMessage?: (payload: Record<string, unknown>) => string;
  /** Key of the run id in frames, `runId` by default. */
  runIdKey?: string;
  /** The resume frame; default `{ [runIdKey]: runId, lastEventId }`. */
  buildResumePayload?: (runId: string, lastEventId: number) => Record<string, unknown>;
  /**
   * Extension: the event number of an inbound event, for `lastEventId` on
   * resume. Default: its `eventId` / `event_id` field when numeric, else the
   * count of events received in this run (events are numbered from 1).
   */
  resolveEventId?: (event: unknown) => number | null | undefined;
  /** Extension: headers of the `cancelUrl` POST (read at every stop). */
  cancelHeaders?: HeadersInput;
  /** Extension: the fetch used for `cancelUrl`. */
  fetch?: typeof fetch;
  /** Extension: reconnection policy when the socket drops before `{type:"done"}`. */
  reconnect?: ReconnectPolicy;
  /** Extension: refresh credentials after a close with code 4401, then reconnect and resume once. */
  onAuthError?: AuthErrorHandler;
  /** Extension: WebSocket factory (injectable for tests). */
  createWebSocket?: (url: string, protocols?: string | string[]) => WebSocket;
}

/** Per-transport configuration. */
export interface TransportOptions {
  sse?: Partial<DirectSSETransportOptions>;
  backgroundSSE?: BackgroundSSETransportOptions;
  websocket?: WebSocketTransportOptions;
}

/** Names of the built-in transports. */
export type TransportName = "sse" | "background-sse" | "websocket";

/** Options of `useStreamChat`. */
export interface UseStreamChatOptions<TPart = ContentPart, TEvent = SSEEvent> {
  /** POST endpoint of the default `sse` transport (required for it). */
  api?: string;
  /** Extra request headers; read at every `sendMessage`. */
  headers?: HeadersInput;
  /** Extra body fields beside `message`; read at every `sendMessage`. */
  body?: BodyInput;
  /** Messages to start with (read on first render only). */
  initialMessages?: Message<TPart>[];
  /** Replaces the default event handler. */
  onEvent?: (event: TEvent, helpers: EventHelpers<TPart>) => void;
  /** The stream ended normally; gets the final messages. */
  onFinish?: (messages: Message<TPart>[]) => void;
  /** A complete message was added (user: at send; assistant: at finish). */
  onMessage?: (message: Message<TPart>) => void;
  /** Fetch or stream failure; never called for aborts caused by `stop()`. */
  onError?: (error: Error) => void;
  /** Which transport to use: a built-in name or a custom object. */
  transport?: TransportName | ChatTransport<TPart, TEvent>;
  /** Configuration of the built-in transports. */
  transportOptions?: TransportOptions;
}

/** What `useStreamChat` returns. */
export interface UseStreamChatReturn<TPart = ContentPart> {
  /** The conversation so far, including the streaming assistant message. */
  messages: Message<TPart>[];
  /** A run is in progress. */
  isLoading: boolean;
  /** The last run's failure (reset to `null` at each send). */
  error: Error | null;
  /** Id of the resumable run in progress (`null` for the `sse` transport). */
  runId: string | null;
  /** Append the user message and an empty assistant message, start a run. Ignored while loading. */
  sendMessage: (text: string) => void;
  /** Abort the run; safe when idle. */
  stop: () => void;
  /** Replace or update the message list. */
  setMessages: Dispatch<SetStateAction<Message<TPart>[]>>;
}

/** Options of `useAutoScroll`. */
export interface UseAutoScrollOptions {
  /** How `scrollToBottom()` moves (default `"smooth"`); following the stream is always instant. */
  behavior?: ScrollBehavior;
  /** Follow new content at all (default `true`). */
  enabled?: boolean;
  /** Pixels from the bottom that still count as "at the bottom" (default 50). */
  threshold?: number;
}

/** What `useAutoScroll` returns. */
export interface UseAutoScrollReturn<T extends HTMLElement = HTMLDivElement> {
  /** Put on the scroll container (fixed height, `overflow-y: auto`). */
  ref: RefObject<T | null>;
  /** Jump to the bottom (with `behavior`) and follow new content again. */
  scrollToBottom: () => void;
  /** Whether the view follows the bottom; false once the user scrolled up. */
  isAtBottom: boolean;
}
