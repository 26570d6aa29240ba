import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, useLocation } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ForgotPasswordPage } from "./forgot-password-page";
import { ResetPasswordPage } from "./reset-password-page";
import { fakeBackend, json } from "./test-backend";

afterEach(() => {
  vi.unstubAllGlobals();
});

function Location() {
  const location = useLocation();
  return <span data-testid="location">{`${location.pathname}${location.search}`}</span>;
}

function renderAt(path: string, page: React.ReactNode) {
  render(
    <MemoryRouter initialEntries={[path]}>
      {page}
      <Location />
    </MemoryRouter>,
  );
}

describe("ForgotPasswordPage", () => {
  it("asks for a link and gives the same answer for any address", async () => {
    const backend = fakeBackend({ "POST /api/auth/password/reset": () => json(202) });
    renderAt("/forgot-password", <ForgotPasswordPage />);
    const user = userEvent.setup();

    await user.type(screen.getByLabelText("Email"), "owner@example.com");
    await user.click(screen.getByRole("button", { name: "Send the link" }));

    expect(await screen.findByRole("status")).toHaveTextContent("If an account has this address");
    expect(backend.sent("POST", "/api/auth/password/reset")[0]?.body).toEqual({
      email: "owner@example.com",
    });
  });

  it("shows the limit's message when throttled", async () => {
    fakeBackend({
      "POST /api/auth/password/reset": () =>
        json(429, { detail: "Too many attempts. Try again in 60 seconds.", code: "throttled" }),
    });
    renderAt("/forgot-password", <ForgotPasswordPage />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Email"), "owner@example.com");
    await user.click(screen.getByRole("button", { name: "Send the link" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Try again in 60 seconds.");
  });
});

describe("ResetPasswordPage", () => {
  it("posts the link's uid and token with the new password", async () => {
    const backend = fakeBackend({ "POST /api/auth/password/reset/confirm": () => json(204) });
    renderAt("/reset-password?uid=MQ&token=abc-123", <ResetPasswordPage />);
    const user = userEvent.setup();
    expect(await screen.findByTestId("location")).toHaveTextContent(/^\/reset-password$/);

    await user.type(screen.getByLabelText("New password"), "a-new-passphrase");
    await user.type(screen.getByLabelText("New password again"), "a-new-passphrase");
    await user.click(screen.getByRole("button", { name: "Set the new password" }));

    expect(await screen.findByRole("status")).toHaveTextContent("Your password was changed");
    expect(backend.sent("POST", "/api/auth/password/reset/confirm")[0]?.body).toEqual({
      uid: "MQ",
      token: "abc-123",
      new_password: "a-new-passphrase",
    });
  });

  it("explains a used or expired link and offers a new one", async () => {
    fakeBackend({
      "POST /api/auth/password/reset/confirm": () =>
        json(400, { detail: "Invalid.", code: "reset_token_invalid" }),
    });
    renderAt("/reset-password?uid=MQ&token=used", <ResetPasswordPage />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("New password"), "a-new-passphrase");
    await user.type(screen.getByLabelText("New password again"), "a-new-passphrase");
    await user.click(screen.getByRole("button", { name: "Set the new password" }));

    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("already used or expired");
    expect(screen.getByRole("link", { name: "Get a new link" })).toHaveAttribute(
      "href",
      "/forgot-password",
    );
  });

  it("a link without its token cannot be submitted", () => {
    fakeBackend({});
    renderAt("/reset-password?uid=MQ", <ResetPasswordPage />);
    expect(screen.getByRole("alert")).toHaveTextContent("invalid");
    expect(screen.getByRole("button", { name: "Set the new password" })).toBeDisabled();
  });
});
