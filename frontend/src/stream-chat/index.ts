/**
 * The public API of `@deltakit/react` 0.2.8, and nothing else: code written
 * for that package works with `import { useStreamChat } from "./stream-chat"`.
 * Our own helpers and extension types are imported from their modules by path.
 */

export { fromAgnoAgents, fromOpenAiAgents } from "./converters";
export { parseSSEStream } from "./sse";
export type {
  BackgroundSSETransportOptions,
  ChatTransport,
  ChatTransportContext,
  ChatTransportRun,
  ContentPart,
  DirectSSETransportOptions,
  EventHelpers,
  Message,
  ReasoningPart,
  SSEEvent,
  TextDeltaEvent,
  TextPart,
  ToolCallEvent,
  ToolCallPart,
  ToolResultEvent,
  TransportOptions,
  UseAutoScrollOptions,
  UseAutoScrollReturn,
  UseStreamChatOptions,
  UseStreamChatReturn,
  WebSocketTransportOptions,
} from "./types";
export { useAutoScroll } from "./use-auto-scroll";
export { useStreamChat } from "./use-stream-chat";
