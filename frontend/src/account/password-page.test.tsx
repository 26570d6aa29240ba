import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../auth/auth-provider";
import { PasswordPage } from "./password-page";
import { fakeBackend, json, loggedInSession } from "./test-backend";

afterEach(() => {
  vi.unstubAllGlobals();
});

async function fill(current: string, next: string, repeat = next) {
  const user = userEvent.setup();
  await user.type(screen.getByLabelText("Current password"), current);
  await user.type(screen.getByLabelText("New password"), next);
  await user.type(screen.getByLabelText("New password again"), repeat);
  await user.click(screen.getByRole("button", { name: "Change password" }));
}

async function renderPage() {
  const session = await loggedInSession();
  render(
    <AuthProvider session={session}>
      <PasswordPage />
    </AuthProvider>,
  );
}

describe("PasswordPage", () => {
  it("sends the current and new password and says the other sessions ended", async () => {
    const backend = fakeBackend({ "POST /api/auth/password": () => json(204) });
    await renderPage();

    await fill("old-pw", "new-long-passphrase");

    expect(await screen.findByRole("status")).toHaveTextContent("other sessions were signed out");
    expect(backend.sent("POST", "/api/auth/password")[0]?.body).toEqual({
      current_password: "old-pw",
      new_password: "new-long-passphrase",
    });
  });

  it("does not send mismatched new passwords", async () => {
    const backend = fakeBackend({});
    await renderPage();
    await fill("old-pw", "one-passphrase", "another-passphrase");
    expect(screen.getByRole("alert")).toHaveTextContent("do not match");
    expect(backend.sent("POST", "/api/auth/password")).toHaveLength(0);
  });

  it("shows a wrong current password and the validators' messages", async () => {
    let answer = json(403, { detail: "Wrong password.", code: "invalid_credentials" });
    fakeBackend({ "POST /api/auth/password": () => answer });
    await renderPage();

    await fill("wrong", "new-long-passphrase");
    expect(await screen.findByRole("alert")).toHaveTextContent("Your current password is wrong.");

    answer = json(400, {
      detail: "Invalid input.",
      code: "invalid",
      errors: { new_password: ["This password is too common."] },
    });
    await userEvent.setup().click(screen.getByRole("button", { name: "Change password" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("This password is too common.");
  });
});
