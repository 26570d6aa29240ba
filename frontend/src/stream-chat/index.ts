/**
 * Our implementation of the `@deltakit/react` public API. Code written for that
 * package works with `import { useStreamChat } from "./stream-chat"`.
 */

export {
  createBackgroundSSETransport,
  defaultResolveRunId,
  type ResumableTransport,
} from "./background-sse";
export {
  appendPart,
  appendText,
  createId,
  createMessage,
  defaultEventHandler,
  ensureAssistantMessage,
  startTurn,
  updateMessage,
} from "./controller";
export { parseSSEStream, readSSEMessages, type SSEMessage } from "./sse";
export { createChatRequestError, createSSETransport, isAbortError } from "./transports";
export type * from "./types";
export { useStreamChat } from "./use-stream-chat";
export { createWebSocketTransport, resolveSocketUrl, WS_AUTH_CLOSE_CODE } from "./websocket";
