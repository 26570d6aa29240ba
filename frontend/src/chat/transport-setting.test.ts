import { act, renderHook } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import {
  loadTransportChoice,
  TRANSPORT_CHOICES,
  TRANSPORT_STORAGE_KEY,
  useTransportChoice,
} from "./transport-setting";

afterEach(() => localStorage.clear());

describe("transport setting", () => {
  it("offers the three transports and defaults to SSE", () => {
    expect(TRANSPORT_CHOICES.map((c) => c.label)).toEqual([
      "Streaming (SSE)",
      "Background (resumable)",
      "WebSocket",
    ]);
    expect(loadTransportChoice()).toBe("sse");
    localStorage.setItem(TRANSPORT_STORAGE_KEY, "carrier-pigeon");
    expect(loadTransportChoice()).toBe("sse");
  });

  it("persists the choice in localStorage and follows other tabs", () => {
    const { result } = renderHook(() => useTransportChoice());
    act(() => result.current[1]("websocket"));
    expect(result.current[0]).toBe("websocket");
    expect(localStorage.getItem(TRANSPORT_STORAGE_KEY)).toBe("websocket");
    act(() => {
      localStorage.setItem(TRANSPORT_STORAGE_KEY, "background-sse");
      window.dispatchEvent(new StorageEvent("storage", { key: TRANSPORT_STORAGE_KEY }));
    });
    expect(result.current[0]).toBe("background-sse");
  });
});
