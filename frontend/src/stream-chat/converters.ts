/**
 * History converters, as in `@deltakit/react` 0.2.8: a backend's stored
 * history (JSON) → `Message[]`, oldest first.
 *
 * Both follow one grouping rule: each user message starts a new message, and
 * every assistant-side item after it (reasoning, tool calls, text) joins one
 * assistant message. Tool outputs attach to their call's part as `result`.
 * Input is untrusted JSON: an unknown or malformed item is skipped, never
 * thrown on.
 */
import { createId } from "./controller";
import type { ContentPart, Message, ToolCallPart } from "./types";

type Item = Record<string, unknown>;

function isItem(value: unknown): value is Item {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** An id worth keeping: a non-empty string (or a number, stringified). */
function usableId(value: unknown): string | undefined {
  if (typeof value === "string" && value.trim() !== "") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Tool results are strings; anything else is stringified (JSON when it can be). */
function stringify(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Builds the message list: tracks the open assistant message and the calls awaiting results. */
class HistoryBuilder {
  readonly messages: Message<ContentPart>[] = [];
  private assistant: Message<ContentPart> | null = null;
  private readonly calls = new Map<string, ToolCallPart>();
  private readonly allCalls: ToolCallPart[] = [];

  user(text: string, id: unknown): void {
    this.assistant = null;
    this.messages.push({
      id: usableId(id) ?? createId(),
      role: "user",
      parts: [{ type: "text", text }],
    });
  }

  /** Append to the open assistant message (opening one, with `id` when usable). */
  part(part: ContentPart, id: unknown): void {
    if (!this.assistant) {
      this.assistant = { id: usableId(id) ?? createId(), role: "assistant", parts: [] };
      this.messages.push(this.assistant);
    }
    this.assistant.parts.push(part);
    if (part.type === "tool_call") {
      this.allCalls.push(part);
      if (part.callId) this.calls.set(part.callId, part);
    }
  }

  toolCall(name: string, argument: unknown, callId: unknown, id: unknown): ToolCallPart {
    const part: ToolCallPart = {
      type: "tool_call",
      tool_name: name,
      argument: typeof argument === "string" ? argument : stringify(argument ?? {}),
    };
    const pairing = usableId(callId);
    if (pairing) part.callId = pairing;
    this.part(part, id);
    return part;
  }

  /** Attach `output` to the call `callId`; a result without its call is dropped. */
  result(callId: unknown, output: unknown): boolean {
    const pairing = usableId(callId);
    const part = pairing ? this.calls.get(pairing) : undefined;
    if (!part) return false;
    part.result = stringify(output);
    return true;
  }

  /** Attach `output` to the oldest call of `name` still without a result. */
  resultByName(name: string, output: unknown): void {
    const part = this.allCalls.find((call) => call.tool_name === name && call.result === undefined);
    if (part) part.result = stringify(output);
  }
}

// ------------------------------------------------------------ OpenAI Agents SDK

/** The text of a message's content: a string, or the text parts of a content list. */
function contentText(content: unknown, kinds: readonly string[]): string[] {
  if (typeof content === "string") return [content];
  if (!Array.isArray(content)) return [];
  const texts: string[] = [];
  for (const entry of content) {
    if (!isItem(entry)) continue;
    const kind = str(entry.type);
    if (kind && !kinds.includes(kind)) continue;
    const text = str(entry.text) ?? str(entry.refusal);
    if (text) texts.push(text);
  }
  return texts;
}

/** Hosted tool calls: item type → the tool name shown and the arguments worth showing. */
const HOSTED_CALLS: Record<string, { name: string; argument: (item: Item) => unknown }> = {
  web_search_call: { name: "web_search", argument: (item) => item.action ?? {} },
  file_search_call: { name: "file_search", argument: (item) => ({ queries: item.queries ?? [] }) },
  computer_call: { name: "computer", argument: (item) => item.action ?? {} },
  shell_call: { name: "shell", argument: (item) => item.action ?? {} },
  local_shell_call: { name: "shell", argument: (item) => item.action ?? {} },
  code_interpreter_call: { name: "code_interpreter", argument: (item) => item.code ?? "" },
  apply_patch_call: { name: "apply_patch", argument: (item) => item.operation ?? {} },
};

/** Outputs that attach to an earlier call by call id. */
const OUTPUT_ITEMS = new Set([
  "function_call_output",
  "computer_call_output",
  "shell_call_output",
  "local_shell_call_output",
  "apply_patch_call_output",
  "custom_tool_call_output",
]);

/** The result a hosted call carries itself, when it has one. */
function inlineResult(kind: string, item: Item): unknown {
  if (kind === "file_search_call") return item.results ?? undefined;
  if (kind === "code_interpreter_call") return item.outputs ?? undefined;
  return undefined;
}

function addOpenAiItem(history: HistoryBuilder, item: Item): void {
  const kind = str(item.type);
  const role = str(item.role);
  if (kind === "message" || (kind === undefined && role !== undefined)) {
    if (role === "user") {
      history.user(contentText(item.content, ["input_text", "text"]).join(""), item.id);
    } else if (role === "assistant") {
      for (const text of contentText(item.content, ["output_text", "refusal", "text"])) {
        history.part({ type: "text", text }, item.id);
      }
    }
    // system and developer messages are instructions, not conversation.
    return;
  }
  if (kind === undefined) return;
  if (kind === "reasoning") {
    const summary = Array.isArray(item.summary) ? item.summary : [];
    const text = summary
      .map((entry) => (isItem(entry) ? (str(entry.text) ?? "") : ""))
      .filter(Boolean)
      .join("\n\n");
    if (text) history.part({ type: "reasoning", text }, item.id);
    return;
  }
  if (kind === "function_call") {
    const name = str(item.name);
    if (name) history.toolCall(name, item.arguments ?? "", item.call_id, item.id);
    return;
  }
  if (kind === "custom_tool_call") {
    const name = str(item.name);
    if (name) history.toolCall(name, item.input ?? "", item.call_id, item.id);
    return;
  }
  if (kind === "mcp_call") {
    const name = str(item.name);
    if (!name) return;
    const part = history.toolCall(name, item.arguments ?? "", item.id, item.id);
    const output = item.output ?? item.error;
    if (output !== undefined && output !== null) part.result = stringify(output);
    return;
  }
  if (kind === "image_generation_call") {
    history.part({ type: "text", text: "[Image Generated]" }, item.id);
    return;
  }
  const hosted = HOSTED_CALLS[kind];
  if (hosted) {
    const part = history.toolCall(
      hosted.name,
      hosted.argument(item),
      item.call_id ?? item.id,
      item.id,
    );
    const result = inlineResult(kind, item);
    if (result !== undefined && result !== null) part.result = stringify(result);
    return;
  }
  if (OUTPUT_ITEMS.has(kind)) {
    // local_shell_call_output names its call by `id` in older SDK versions.
    if (!history.result(item.call_id, item.output)) history.result(item.id, item.output);
  }
  // Anything else (MCP listings and approvals, compaction, item references,
  // tool search, types newer than this code) carries nothing to show.
}

/**
 * OpenAI Agents SDK items (`result.to_input_list()`, a session's `get_items()`)
 * → messages.
 */
export function fromOpenAiAgents(items: unknown): Message<ContentPart>[] {
  const history = new HistoryBuilder();
  if (!Array.isArray(items)) return history.messages;
  for (const item of items) {
    if (isItem(item)) addOpenAiItem(history, item);
  }
  return history.messages;
}

// ------------------------------------------------------------------------ Agno

function agnoText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return contentText(content, ["text"]).join("");
  return "";
}

/** Agno session messages (`role`: user, assistant, tool, system) → messages. */
export function fromAgnoAgents(messages: unknown): Message<ContentPart>[] {
  const history = new HistoryBuilder();
  if (!Array.isArray(messages)) return history.messages;
  for (const message of messages) {
    if (!isItem(message)) continue;
    const role = str(message.role);
    if (role === "user") {
      history.user(agnoText(message.content), message.id);
    } else if (role === "assistant") {
      const reasoning = str(message.reasoning_content);
      if (reasoning) history.part({ type: "reasoning", text: reasoning }, message.id);
      if (Array.isArray(message.tool_calls)) {
        for (const call of message.tool_calls) {
          if (!isItem(call) || !isItem(call.function)) continue;
          const name = str(call.function.name);
          if (name) history.toolCall(name, call.function.arguments ?? "", call.id, message.id);
        }
      }
      const text = agnoText(message.content);
      if (text) history.part({ type: "text", text }, message.id);
    } else if (role === "tool") {
      const output = message.content;
      if (!history.result(message.tool_call_id, output)) {
        const name = str(message.tool_name) ?? str(message.name);
        if (name) history.resultByName(name, output);
      }
    }
  }
  return history.messages;
}
