/**
 * Our implementation of the `@deltakit/react` public API. Code written for that
 * package works with `import { useStreamChat } from "./stream-chat"`.
 */
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
export { parseSSEStream } from "./sse";
export { createChatRequestError, createSSETransport, isAbortError } from "./transports";
export type * from "./types";
export { useStreamChat } from "./use-stream-chat";
