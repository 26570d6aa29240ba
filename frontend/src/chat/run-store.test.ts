import { afterEach, describe, expect, it } from "vitest";
import type { ContentPart, Message } from "../stream-chat";
import {
  clearRun,
  loadRun,
  RUN_STORAGE_KEY,
  type StoredRun,
  saveRun,
  turnIsSaved,
  withoutLiveTurn,
} from "./run-store";

const run: StoredRun = {
  runId: "r1",
  transport: "websocket",
  conversationId: "c1",
  text: "Question",
  baseline: 2,
};

const message = (role: "user" | "assistant", text: string): Message<ContentPart> => ({
  id: `${role}-${text}`,
  role,
  parts: [{ type: "text", text }],
});

afterEach(() => sessionStorage.clear());

describe("run store", () => {
  it("saves and loads the run in sessionStorage; ignores junk", () => {
    expect(loadRun()).toBeNull();
    saveRun(run);
    expect(loadRun()).toEqual(run);
    sessionStorage.setItem(RUN_STORAGE_KEY, "{not json");
    expect(loadRun()).toBeNull();
    sessionStorage.setItem(RUN_STORAGE_KEY, JSON.stringify({ runId: "x", transport: "sse" }));
    expect(loadRun()).toBeNull();
  });

  it("clearRun(id) only clears that run", () => {
    saveRun(run);
    clearRun("other");
    expect(loadRun()).toEqual(run);
    clearRun("r1");
    expect(loadRun()).toBeNull();
    saveRun(run);
    clearRun();
    expect(loadRun()).toBeNull();
  });

  it("turnIsSaved looks for the question after the baseline", () => {
    const before = [message("user", "Question"), message("assistant", "Old answer")];
    expect(turnIsSaved(before, run)).toBe(false); // the same words, asked earlier
    expect(turnIsSaved([...before, message("user", "Question")], run)).toBe(true);
    expect(turnIsSaved([...before, message("user", "Something else")], run)).toBe(false);
  });

  it("a turn whose reply is still running is not saved yet, and is replayed", () => {
    const before = [message("user", "Earlier"), message("assistant", "Old answer")];
    const running = { ...message("assistant", "Partial"), status: "running" };
    const live = [...before, message("user", "Question"), running];
    expect(turnIsSaved(live, run)).toBe(false);
    expect(withoutLiveTurn(live, run)).toEqual(before);
    // Before its first checkpoint the server shows the reply empty, still running.
    const started = [...before, message("user", "Question"), { ...running, parts: [] }];
    expect(turnIsSaved(started, run)).toBe(false);
    expect(withoutLiveTurn(started, run)).toEqual(before);
    const ended = [...before, message("user", "Question"), { ...running, status: "interrupted" }];
    expect(turnIsSaved(ended, run)).toBe(true);
    expect(withoutLiveTurn(before, run)).toEqual(before);
  });
});
