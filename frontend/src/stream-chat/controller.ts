/**
 * Pure state updates of the chat: every function takes the message list and
 * returns a new one (never mutating), so the hook stays a thin shell around
 * them and they are testable without React.
 */
import type { ContentPart, EventHelpers, Message, SSEEvent, TextPart } from "./types";

let fallbackCounter = 0;

/** A client-side message id. */
export function createId(): string {
  const cryptoApi = globalThis.crypto as Crypto | undefined;
  if (cryptoApi && typeof cryptoApi.randomUUID === "function") return cryptoApi.randomUUID();
  fallbackCounter += 1;
  return `msg-${Date.now().toString(36)}-${fallbackCounter}`;
}

/** A new message. */
export function createMessage<TPart>(
  role: Message<TPart>["role"],
  parts: TPart[] = [],
  id: string = createId(),
): Message<TPart> {
  return { id, role, parts };
}

/** Apply `update` to the message with `id`; unchanged list when it is absent. */
export function updateMessage<TPart>(
  messages: Message<TPart>[],
  id: string,
  update: (message: Message<TPart>) => Message<TPart>,
): Message<TPart>[] {
  const index = messages.findIndex((m) => m.id === id);
  if (index === -1) return messages;
  const next = messages.slice();
  next[index] = update(messages[index] as Message<TPart>);
  return next;
}

function isTextPart(part: unknown): part is TextPart {
  return typeof part === "object" && part !== null && (part as { type?: unknown }).type === "text";
}

/** Append `delta` to the last text part of message `id`, or start a text part. */
export function appendText<TPart>(
  messages: Message<TPart>[],
  id: string,
  delta: string,
): Message<TPart>[] {
  return updateMessage(messages, id, (message) => {
    const last = message.parts[message.parts.length - 1];
    if (isTextPart(last)) {
      const parts = message.parts.slice(0, -1);
      parts.push({ ...last, text: last.text + delta } as TPart);
      return { ...message, parts };
    }
    return { ...message, parts: [...message.parts, { type: "text", text: delta } as TPart] };
  });
}

/** Append `part` to message `id`. */
export function appendPart<TPart>(
  messages: Message<TPart>[],
  id: string,
  part: TPart,
): Message<TPart>[] {
  return updateMessage(messages, id, (message) => ({
    ...message,
    parts: [...message.parts, part],
  }));
}

/** Make sure message `id` exists, appending an empty assistant message if not. */
export function ensureAssistantMessage<TPart>(
  messages: Message<TPart>[],
  id: string,
): Message<TPart>[] {
  if (messages.some((m) => m.id === id)) return messages;
  return [...messages, createMessage<TPart>("assistant", [], id)];
}

/** The user's message and an empty assistant message to stream into. */
export function startTurn<TPart>(
  messages: Message<TPart>[],
  text: string,
  ids: { user: string; assistant: string } = { user: createId(), assistant: createId() },
): Message<TPart>[] {
  return [
    ...messages,
    createMessage<TPart>("user", [{ type: "text", text } as TPart], ids.user),
    createMessage<TPart>("assistant", [], ids.assistant),
  ];
}

/**
 * What happens to events when no `onEvent` is given: `text_delta` appends to
 * the assistant message; every other event is ignored.
 */
export function defaultEventHandler<TPart = ContentPart, TEvent = SSEEvent>(
  event: TEvent,
  helpers: EventHelpers<TPart>,
): void {
  const candidate = event as { type?: unknown; delta?: unknown };
  if (candidate?.type === "text_delta" && typeof candidate.delta === "string") {
    helpers.appendText(candidate.delta);
  }
}
