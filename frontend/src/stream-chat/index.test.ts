import { describe, expect, expectTypeOf, it } from "vitest";
import type {
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
} from "./index";
import * as api from "./index";

describe("the package index", () => {
  it("exports exactly the runtime API of @deltakit/react 0.2.8", () => {
    expect(Object.keys(api).sort()).toEqual([
      "fromAgnoAgents",
      "fromOpenAiAgents",
      "parseSSEStream",
      "useAutoScroll",
      "useStreamChat",
    ]);
    for (const value of Object.values(api)) expect(typeof value).toBe("function");
  });

  it("exports the package's type names with the package's shapes", () => {
    expectTypeOf<Message>().toEqualTypeOf<Message<ContentPart>>();
    expectTypeOf<Message["role"]>().toEqualTypeOf<"user" | "assistant">();
    expectTypeOf<ContentPart>().toEqualTypeOf<TextPart | ToolCallPart | ReasoningPart>();
    expectTypeOf<SSEEvent>().toEqualTypeOf<TextDeltaEvent | ToolCallEvent | ToolResultEvent>();
    expectTypeOf<ToolCallPart>().toHaveProperty("callId");
    expectTypeOf<ToolResultEvent["call_id"]>().toEqualTypeOf<string>();
    expectTypeOf<EventHelpers>().toHaveProperty("appendText");
    expectTypeOf<ChatTransport>().toHaveProperty("start");
    expectTypeOf<ChatTransportContext>().toHaveProperty("setRunId");
    expectTypeOf<ChatTransportRun>().toHaveProperty("close");
    expectTypeOf<DirectSSETransportOptions["api"]>().toEqualTypeOf<string>();
    expectTypeOf<BackgroundSSETransportOptions>().toHaveProperty("eventsApi");
    expectTypeOf<WebSocketTransportOptions>().toHaveProperty("runIdKey");
    expectTypeOf<TransportOptions>().toHaveProperty("backgroundSSE");
    expectTypeOf<UseStreamChatOptions>().toHaveProperty("transportOptions");
    expectTypeOf<UseStreamChatReturn>().toHaveProperty("runId");
    expectTypeOf<UseAutoScrollOptions>().toHaveProperty("threshold");
    expectTypeOf<UseAutoScrollReturn>().toHaveProperty("isAtBottom");
  });
});
