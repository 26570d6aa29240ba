import { describe, expect, it } from "vitest";
import { fromAgnoAgents, fromOpenAiAgents } from "./converters";
import type { Message } from "./types";

/** Messages without their ids (generated ones differ at every call). */
function shapes(messages: Message[]) {
  return messages.map(({ role, parts }) => ({ role, parts }));
}

describe("fromOpenAiAgents", () => {
  it("groups a user message and the assistant items after it, oldest first", () => {
    const messages = fromOpenAiAgents([
      { role: "system", content: "You are helpful." },
      { role: "user", content: "What is 6 * 7?" },
      {
        type: "reasoning",
        id: "rs_1",
        summary: [
          { type: "summary_text", text: "Multiply." },
          { type: "summary_text", text: "Use the tool." },
        ],
      },
      {
        type: "function_call",
        id: "fc_1",
        call_id: "call_1",
        name: "calculate",
        arguments: '{"expression":"6 * 7"}',
      },
      { type: "function_call_output", call_id: "call_1", output: "42" },
      {
        type: "message",
        id: "msg_1",
        role: "assistant",
        content: [{ type: "output_text", text: "It is 42.", annotations: [] }],
      },
      {
        type: "message",
        role: "user",
        content: [
          { type: "input_text", text: "Thanks" },
          { type: "input_text", text: "!" },
        ],
      },
    ]);
    expect(shapes(messages)).toEqual([
      { role: "user", parts: [{ type: "text", text: "What is 6 * 7?" }] },
      {
        role: "assistant",
        parts: [
          { type: "reasoning", text: "Multiply.\n\nUse the tool." },
          {
            type: "tool_call",
            tool_name: "calculate",
            argument: '{"expression":"6 * 7"}',
            callId: "call_1",
            result: "42",
          },
          { type: "text", text: "It is 42." },
        ],
      },
      { role: "user", parts: [{ type: "text", text: "Thanks!" }] },
    ]);
    // The assistant message takes the id of its first item; the user ones are generated.
    expect(messages[1]?.id).toBe("rs_1");
    expect(messages[0]?.id).toEqual(expect.any(String));
    expect(messages[0]?.id).not.toBe(messages[2]?.id);
  });

  it("keeps refusals as text and drops developer messages", () => {
    const messages = fromOpenAiAgents([
      { type: "message", role: "developer", content: "internal" },
      { role: "user", content: "Do the bad thing" },
      {
        type: "message",
        role: "assistant",
        content: [{ type: "refusal", refusal: "I can't help with that." }],
      },
    ]);
    expect(shapes(messages)).toEqual([
      { role: "user", parts: [{ type: "text", text: "Do the bad thing" }] },
      { role: "assistant", parts: [{ type: "text", text: "I can't help with that." }] },
    ]);
  });

  it("turns every hosted tool call into a tool_call part and attaches its output", () => {
    const messages = fromOpenAiAgents([
      { role: "user", content: "go" },
      {
        type: "web_search_call",
        id: "ws_1",
        status: "completed",
        action: { type: "search", query: "cats" },
      },
      {
        type: "file_search_call",
        id: "fs_1",
        queries: ["q"],
        status: "completed",
        results: [{ text: "hit" }],
      },
      {
        type: "computer_call",
        id: "cu_1",
        call_id: "call_c",
        action: { type: "click", x: 1, y: 2 },
      },
      {
        type: "computer_call_output",
        call_id: "call_c",
        output: { type: "computer_screenshot", image_url: "data:x" },
      },
      { type: "shell_call", id: "sh_1", call_id: "call_s", action: { commands: ["ls"] } },
      { type: "shell_call_output", call_id: "call_s", output: [{ stdout: "a.txt" }] },
      {
        type: "local_shell_call",
        id: "ls_1",
        call_id: "call_l",
        action: { type: "exec", command: ["pwd"] },
      },
      { type: "local_shell_call_output", id: "call_l", output: "/home" },
      {
        type: "code_interpreter_call",
        id: "ci_1",
        code: "print(1)",
        outputs: [{ type: "logs", logs: "1" }],
      },
      {
        type: "apply_patch_call",
        call_id: "call_p",
        operation: { type: "update_file", path: "a.py" },
      },
      { type: "apply_patch_call_output", call_id: "call_p", output: "done" },
      {
        type: "mcp_call",
        id: "mcp_1",
        name: "lookup",
        server_label: "docs",
        arguments: '{"q":1}',
        output: "found",
      },
      { type: "custom_tool_call", call_id: "call_x", name: "grammar", input: "text" },
      { type: "custom_tool_call_output", call_id: "call_x", output: "ok" },
      { type: "image_generation_call", id: "ig_1", result: "base64", status: "completed" },
    ]);
    const assistant = messages[1];
    expect(messages).toHaveLength(2);
    expect(assistant?.role).toBe("assistant");
    expect(assistant?.parts).toEqual([
      {
        type: "tool_call",
        tool_name: "web_search",
        argument: '{"type":"search","query":"cats"}',
        callId: "ws_1",
      },
      {
        type: "tool_call",
        tool_name: "file_search",
        argument: '{"queries":["q"]}',
        callId: "fs_1",
        result: '[{"text":"hit"}]',
      },
      {
        type: "tool_call",
        tool_name: "computer",
        argument: '{"type":"click","x":1,"y":2}',
        callId: "call_c",
        result: '{"type":"computer_screenshot","image_url":"data:x"}',
      },
      {
        type: "tool_call",
        tool_name: "shell",
        argument: '{"commands":["ls"]}',
        callId: "call_s",
        result: '[{"stdout":"a.txt"}]',
      },
      {
        type: "tool_call",
        tool_name: "shell",
        argument: '{"type":"exec","command":["pwd"]}',
        callId: "call_l",
        result: "/home",
      },
      {
        type: "tool_call",
        tool_name: "code_interpreter",
        argument: "print(1)",
        callId: "ci_1",
        result: '[{"type":"logs","logs":"1"}]',
      },
      {
        type: "tool_call",
        tool_name: "apply_patch",
        argument: '{"type":"update_file","path":"a.py"}',
        callId: "call_p",
        result: "done",
      },
      {
        type: "tool_call",
        tool_name: "lookup",
        argument: '{"q":1}',
        callId: "mcp_1",
        result: "found",
      },
      { type: "tool_call", tool_name: "grammar", argument: "text", callId: "call_x", result: "ok" },
      { type: "text", text: "[Image Generated]" },
    ]);
  });

  it("stringifies non-string function outputs", () => {
    const [, assistant] = fromOpenAiAgents([
      { role: "user", content: "x" },
      { type: "function_call", call_id: "c", name: "f", arguments: "{}" },
      { type: "function_call_output", call_id: "c", output: [{ type: "input_text", text: "hi" }] },
    ]);
    expect(assistant?.parts[0]).toMatchObject({ result: '[{"type":"input_text","text":"hi"}]' });
  });

  it("drops MCP listings and approvals, compaction, item references and tool search", () => {
    const messages = fromOpenAiAgents([
      { role: "user", content: "hi" },
      { type: "mcp_list_tools", id: "l", server_label: "s", tools: [] },
      { type: "mcp_approval_request", id: "a", name: "t", arguments: "{}", server_label: "s" },
      { type: "mcp_approval_response", approval_request_id: "a", approve: true },
      { type: "compaction", id: "cmp", encrypted_content: "..." },
      { type: "item_reference", id: "msg_0" },
      { type: "tool_search_call", id: "ts", arguments: {} },
      { type: "tool_search_output", id: "tso", tools: [] },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Hello" }] },
    ]);
    expect(shapes(messages)).toEqual([
      { role: "user", parts: [{ type: "text", text: "hi" }] },
      { role: "assistant", parts: [{ type: "text", text: "Hello" }] },
    ]);
  });

  it("skips malformed and unknown items instead of throwing", () => {
    const items = [
      null,
      42,
      "text",
      [],
      { type: "function_call" },
      { type: "function_call_output", call_id: "nowhere", output: "x" },
      { type: "reasoning", summary: "not a list" },
      { type: "brand_new_item", payload: 1 },
      { role: "user", content: { weird: true } },
      { type: "message", role: "assistant", content: "plain string reply" },
    ];
    expect(() => fromOpenAiAgents(items)).not.toThrow();
    expect(shapes(fromOpenAiAgents(items))).toEqual([
      { role: "user", parts: [{ type: "text", text: "" }] },
      { role: "assistant", parts: [{ type: "text", text: "plain string reply" }] },
    ]);
    expect(fromOpenAiAgents("not an array")).toEqual([]);
    expect(fromOpenAiAgents(undefined)).toEqual([]);
  });
});

describe("fromAgnoAgents", () => {
  it("reads user, assistant (reasoning, tool calls, text) and tool messages", () => {
    const messages = fromAgnoAgents([
      { role: "system", content: "You are helpful." },
      { role: "user", content: "Weather in Paris?", id: "m1" },
      {
        role: "assistant",
        id: "m2",
        reasoning_content: "Look it up.",
        tool_calls: [
          {
            id: "t1",
            type: "function",
            function: { name: "weather", arguments: '{"city":"Paris"}' },
          },
        ],
        content: "",
      },
      { role: "tool", tool_call_id: "t1", tool_name: "weather", content: "Sunny" },
      { role: "assistant", content: "It is sunny." },
    ]);
    expect(messages.map((m) => m.id)).toEqual(["m1", "m2"]);
    expect(shapes(messages)).toEqual([
      { role: "user", parts: [{ type: "text", text: "Weather in Paris?" }] },
      {
        role: "assistant",
        parts: [
          { type: "reasoning", text: "Look it up." },
          {
            type: "tool_call",
            tool_name: "weather",
            argument: '{"city":"Paris"}',
            callId: "t1",
            result: "Sunny",
          },
          { type: "text", text: "It is sunny." },
        ],
      },
    ]);
  });

  it("matches a tool result by tool name when its call id is unknown, and stringifies it", () => {
    const [, assistant] = fromAgnoAgents([
      { role: "user", content: "x" },
      {
        role: "assistant",
        tool_calls: [
          { function: { name: "clock", arguments: "{}" } },
          { function: { name: "clock", arguments: '{"tz":"UTC"}' } },
        ],
      },
      { role: "tool", tool_name: "clock", content: { time: "12:00" } },
      { role: "tool", tool_name: "clock", content: "13:00" },
    ]);
    expect(assistant?.parts).toEqual([
      { type: "tool_call", tool_name: "clock", argument: "{}", result: '{"time":"12:00"}' },
      { type: "tool_call", tool_name: "clock", argument: '{"tz":"UTC"}', result: "13:00" },
    ]);
  });

  it("skips malformed messages instead of throwing", () => {
    const messages = fromAgnoAgents([
      null,
      {
        role: "assistant",
        tool_calls: [null, { function: null }, { function: { arguments: "{}" } }],
      },
      { role: "tool", content: "orphan" },
      { role: "robot", content: "?" },
      { role: "user", content: [{ type: "text", text: "list content" }] },
    ]);
    expect(shapes(messages)).toEqual([
      { role: "user", parts: [{ type: "text", text: "list content" }] },
    ]);
    expect(fromAgnoAgents({})).toEqual([]);
  });
});
