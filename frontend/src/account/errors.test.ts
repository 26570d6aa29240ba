import { describe, expect, it } from "vitest";
import { ApiError } from "../auth/session";
import { fieldMessages } from "./api";
import { errorText } from "./errors";

describe("errorText", () => {
  it("prefers a message for the code, then the field messages, then the detail", () => {
    const known = new ApiError(403, "Wrong password.", "invalid_credentials");
    const fields = new ApiError(400, "Invalid input.", "invalid", {
      errors: { new_password: ["Too short.", "Too common."] },
    });
    const other = new ApiError(429, "Try again in 5 seconds.", "throttled");

    expect(errorText(known, { invalid_credentials: "Your password is wrong." })).toBe(
      "Your password is wrong.",
    );
    expect(errorText(fields)).toBe("Too short. Too common.");
    expect(errorText(other)).toBe("Try again in 5 seconds.");
    expect(errorText(new TypeError("Failed to fetch"))).toMatch(/Could not reach the server/);
  });

  it("fieldMessages reads only the errors object", () => {
    expect(fieldMessages({ detail: "x", code: "y", errors: { email: ["Required."] } })).toEqual({
      email: "Required.",
    });
    expect(fieldMessages(null)).toEqual({});
    expect(fieldMessages({ errors: "nonsense" })).toEqual({});
  });
});
