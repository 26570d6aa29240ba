import { describe, expect, it, vi } from "vitest";
import {
  appendPart,
  appendText,
  defaultEventHandler,
  ensureAssistantMessage,
  startTurn,
  updateMessage,
} from "./controller";
import type { ContentPart, EventHelpers, Message } from "./types";

const base: Message[] = [
  { id: "u1", role: "user", parts: [{ type: "text", text: "hi" }] },
  { id: "a1", role: "assistant", parts: [] },
];

describe("controller", () => {
  it("startTurn appends the user message and an empty assistant message", () => {
    const next = startTurn<ContentPart>([], "hello", { user: "u", assistant: "a" });
    expect(next).toEqual([
      { id: "u", role: "user", parts: [{ type: "text", text: "hello" }] },
      { id: "a", role: "assistant", parts: [] },
    ]);
  });

  it("appendText extends the last text part and starts a new one after another part", () => {
    let messages = appendText(base, "a1", "Hel");
    messages = appendText(messages, "a1", "lo");
    messages = appendPart(messages, "a1", { type: "tool_call", tool_name: "t", argument: "{}" });
    messages = appendText(messages, "a1", "!");
    expect(messages[1]?.parts).toEqual([
      { type: "text", text: "Hello" },
      { type: "tool_call", tool_name: "t", argument: "{}" },
      { type: "text", text: "!" },
    ]);
  });

  it("never mutates its input", () => {
    const frozen = structuredClone(base);
    appendText(base, "a1", "x");
    appendPart(base, "a1", { type: "reasoning", text: "r" });
    expect(base).toEqual(frozen);
  });

  it("updateMessage leaves the list untouched for an unknown id", () => {
    expect(updateMessage(base, "nope", (m) => ({ ...m, parts: [] }))).toBe(base);
  });

  it("ensureAssistantMessage adds the message only when missing", () => {
    expect(ensureAssistantMessage(base, "a1")).toBe(base);
    const next = ensureAssistantMessage(base, "a2");
    expect(next).toHaveLength(3);
    expect(next[2]).toEqual({ id: "a2", role: "assistant", parts: [] });
  });

  it("the default handler appends text_delta and ignores everything else", () => {
    const helpers: EventHelpers = {
      appendText: vi.fn(),
      appendPart: vi.fn(),
      setMessages: vi.fn(),
    };
    defaultEventHandler({ type: "text_delta", delta: "x" }, helpers);
    defaultEventHandler({ type: "tool_call", tool_name: "t", argument: "{}" }, helpers);
    defaultEventHandler({ type: "tool_result", call_id: "c", output: "o" }, helpers);
    expect(helpers.appendText).toHaveBeenCalledExactlyOnceWith("x");
    expect(helpers.appendPart).not.toHaveBeenCalled();
    expect(helpers.setMessages).not.toHaveBeenCalled();
  });
});
