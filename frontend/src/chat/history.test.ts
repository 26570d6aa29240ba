/**
 * DeltaKit's "load chat history" recipe against our server: converting a
 * conversation's stored items (`GET /api/conversations/<id>/items`) with
 * `fromOpenAiAgents` gives the messages the server itself returns
 * (`GET /api/conversations/<id>`), ids and the turn status aside.
 *
 * The fixtures were recorded from the real server (a conversation with
 * reasoning, one tool call, then two parallel ones). The browser test
 * (tests/e2e/test_chat_actions.py) records fresh ones from a live server and
 * runs this file on them through HISTORY_FIXTURE_DIR.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromOpenAiAgents, type Message } from "../stream-chat";

const dir = process.env.HISTORY_FIXTURE_DIR ?? join(__dirname, "fixtures");
const read = (name: string): unknown => JSON.parse(readFileSync(join(dir, name), "utf8"));

/** Role and parts only: the server's ids are its row ids, and `status` is ours. */
function comparable(messages: unknown[]) {
  return (messages as Message[]).map(({ role, parts }) => ({ role, parts }));
}

describe("fromOpenAiAgents on our stored items", () => {
  const items = read("items.json") as unknown[];
  const conversation = read("conversation.json") as { messages: unknown[] };

  it("gives the same messages as the conversation's own `messages`", () => {
    expect(conversation.messages.length).toBeGreaterThan(0);
    expect(comparable(fromOpenAiAgents(items))).toEqual(comparable(conversation.messages));
  });

  it("covers what it claims: reasoning and tool calls with their results", () => {
    const parts = fromOpenAiAgents(items).flatMap((message) => message.parts);
    expect(parts.some((part) => part.type === "reasoning")).toBe(true);
    expect(parts.some((part) => part.type === "tool_call" && part.result !== undefined)).toBe(true);
  });
});
