/**
 * Our `onEvent`: besides reply text it keeps reasoning, tool calls and their
 * results in the assistant message, and hands the non-message events
 * (conversation, usage, error) to the chat screen.
 */
import type { ContentPart, EventHelpers, Message } from "../stream-chat";
import type { ServerEvent } from "../stream-chat/types";

export interface StreamFailure {
  code: string;
  message: string;
  retryable: boolean;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
}

export interface ChatEventCallbacks {
  onConversation: (id: string, title: string) => void;
  onUsage: (usage: Usage) => void;
  onStreamError: (failure: StreamFailure) => void;
}

/** Apply `update` to the last message when it is the assistant's. */
function updateLastAssistant(
  messages: Message<ContentPart>[],
  update: (message: Message<ContentPart>) => Message<ContentPart>,
): Message<ContentPart>[] {
  const last = messages[messages.length - 1];
  if (last?.role !== "assistant") return messages;
  return [...messages.slice(0, -1), update(last)];
}

function stringify(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

export function createChatEventHandler(callbacks: ChatEventCallbacks) {
  return (event: ServerEvent, helpers: EventHelpers<ContentPart>): void => {
    switch (event.type) {
      case "conversation":
        callbacks.onConversation(String(event.id), event.title);
        return;
      case "text_delta":
        helpers.appendText(event.delta);
        return;
      case "reasoning":
        // Reasoning arrives in chunks: extend the current reasoning part.
        helpers.setMessages((messages) =>
          updateLastAssistant(messages, (message) => {
            const last = message.parts[message.parts.length - 1];
            if (last?.type === "reasoning") {
              return {
                ...message,
                parts: [...message.parts.slice(0, -1), { ...last, text: last.text + event.text }],
              };
            }
            return {
              ...message,
              parts: [...message.parts, { type: "reasoning", text: event.text }],
            };
          }),
        );
        return;
      case "tool_call":
        helpers.appendPart({
          type: "tool_call",
          tool_name: event.tool_name,
          argument: stringify(event.argument),
          ...(event.call_id ? { callId: event.call_id } : {}),
        });
        return;
      case "tool_result":
        helpers.setMessages((messages) =>
          updateLastAssistant(messages, (message) => ({
            ...message,
            parts: message.parts.map((part) =>
              part.type === "tool_call" &&
              part.callId === event.call_id &&
              part.result === undefined
                ? { ...part, result: stringify(event.output) }
                : part,
            ),
          })),
        );
        return;
      case "usage":
        callbacks.onUsage({ input_tokens: event.input_tokens, output_tokens: event.output_tokens });
        return;
      case "error":
        callbacks.onStreamError({
          code: event.code,
          message: event.message,
          retryable: Boolean(event.retryable),
        });
        return;
      default:
        // Unknown events from a newer server are ignored.
        return;
    }
  };
}
