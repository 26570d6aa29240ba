import { describe, expect, it } from "vitest";
import { describeLimit, isLimitCode, nextUtcMidnight, resetTime } from "./limits";

const NOW = new Date("2026-12-01T22:30:00Z");

describe("usage limit messages", () => {
  it("knows the four limit codes and nothing else", () => {
    expect(isLimitCode("token_quota_exceeded")).toBe(true);
    expect(isLimitCode("key_quota_exceeded")).toBe(true);
    expect(isLimitCode("throttled")).toBe(false);
    expect(isLimitCode(undefined)).toBe(false);
  });

  it("the reset time is now plus Retry-After, else what the code implies", () => {
    expect(resetTime("turn_rate_exceeded", 42, NOW).toISOString()).toBe("2026-12-01T22:30:42.000Z");
    expect(resetTime("token_quota_exceeded", undefined, NOW).toISOString()).toBe(
      "2026-12-02T00:00:00.000Z",
    );
    expect(nextUtcMidnight(new Date("2026-12-31T23:59:59Z")).toISOString()).toBe(
      "2027-01-01T00:00:00.000Z",
    );
  });

  it("says when the limit lifts, in one sentence", () => {
    const at = new Date(NOW.getTime() + 5400 * 1000).toLocaleString("en-GB", {
      ...(new Date(NOW.getTime() + 5400 * 1000).toDateString() === NOW.toDateString()
        ? {}
        : { weekday: "short" }),
      hour: "2-digit",
      minute: "2-digit",
    });
    expect(describeLimit("token_quota_exceeded", 5400, NOW, "en-GB")).toBe(
      `You have used today's token allowance. It resets at ${at}.`,
    );
    expect(describeLimit("key_quota_exceeded", 5400, NOW, "en-GB")).toContain(
      "This API key has used today's token allowance",
    );
    expect(describeLimit("turn_rate_exceeded", 30, NOW, "en-GB")).toMatch(
      /too many messages in the last minute\. You can send again at \d\d:\d\d:\d\d\./,
    );
    expect(describeLimit("concurrent_turns_exceeded", 1, NOW)).toMatch(/Wait for one to finish/);
  });
});
