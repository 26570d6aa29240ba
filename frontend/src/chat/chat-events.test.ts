import { describe, expect, it, vi } from "vitest";
import type { ContentPart, EventHelpers, Message } from "../stream-chat";
import { appendPart, appendText } from "../stream-chat/controller";
import type { ServerEvent } from "../stream-chat/types";
import { createChatEventHandler } from "./chat-events";

function harness() {
  let messages: Message<ContentPart>[] = [
    { id: "u", role: "user", parts: [{ type: "text", text: "hi" }] },
    { id: "a", role: "assistant", parts: [] },
  ];
  const helpers: EventHelpers<ContentPart> = {
    appendText: (delta) => {
      messages = appendText(messages, "a", delta);
    },
    appendPart: (part) => {
      messages = appendPart(messages, "a", part);
    },
    setMessages: (action) => {
      messages = typeof action === "function" ? action(messages) : action;
    },
  };
  const callbacks = { onConversation: vi.fn(), onUsage: vi.fn(), onStreamError: vi.fn() };
  const handle = createChatEventHandler(callbacks);
  const emit = (...events: ServerEvent[]) => {
    for (const event of events) handle(event, helpers);
  };
  return { emit, callbacks, assistant: () => messages[1]?.parts };
}

describe("chat event handler", () => {
  it("builds text, merged reasoning and tool cards with their results", () => {
    const { emit, assistant } = harness();
    emit(
      { type: "reasoning", text: "Think" },
      { type: "reasoning", text: "ing" },
      { type: "tool_call", tool_name: "clock", argument: '{"tz":"UTC"}', call_id: "c1" },
      { type: "tool_result", call_id: "c1", output: "12:00" },
      { type: "text_delta", delta: "It is " },
      { type: "text_delta", delta: "noon" },
    );
    expect(assistant()).toEqual([
      { type: "reasoning", text: "Thinking" },
      {
        type: "tool_call",
        tool_name: "clock",
        argument: '{"tz":"UTC"}',
        callId: "c1",
        result: "12:00",
      },
      { type: "text", text: "It is noon" },
    ]);
  });

  it("hands conversation, usage and error events to the screen", () => {
    const { emit, callbacks, assistant } = harness();
    emit(
      { type: "conversation", id: "42", title: "New chat" },
      { type: "usage", input_tokens: 3, output_tokens: 5 },
      { type: "error", code: "upstream_error", message: "Model failed", retryable: true },
    );
    expect(callbacks.onConversation).toHaveBeenCalledWith("42", "New chat");
    expect(callbacks.onUsage).toHaveBeenCalledWith({ input_tokens: 3, output_tokens: 5 });
    expect(callbacks.onStreamError).toHaveBeenCalledWith({
      code: "upstream_error",
      message: "Model failed",
      retryable: true,
    });
    expect(assistant()).toEqual([]);
  });
});
