import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../auth/auth-provider";
import { fakeBackend, json, loggedInSession } from "./test-backend";
import { TwoFactorPage } from "./two-factor-page";

const SETUP = {
  secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
  otpauth_url: "otpauth://totp/Secure%20Chat:owner?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
  qr_svg: "data:image/svg+xml,%3Csvg%3E%3C/svg%3E",
};
const CODES = Array.from({ length: 10 }, (_, i) => `aaaa-bbbb-cccc-${String(i).padStart(4, "2")}`);

afterEach(() => {
  vi.unstubAllGlobals();
});

async function renderPage() {
  const session = await loggedInSession();
  render(
    <AuthProvider session={session}>
      <TwoFactorPage />
    </AuthProvider>,
  );
}

describe("TwoFactorPage", () => {
  it("sets up TOTP: password, QR code and secret, first code, recovery codes once", async () => {
    let enabled = false;
    const backend = fakeBackend({
      "GET /api/auth/mfa/totp": () =>
        json(200, { enabled, pending: false, recovery_codes_remaining: enabled ? 10 : 0 }),
      "POST /api/auth/mfa/totp": () => json(201, SETUP),
      "POST /api/auth/mfa/totp/confirm": () => {
        enabled = true;
        return json(200, { recovery_codes: CODES });
      },
    });
    await renderPage();
    const user = userEvent.setup();

    await user.type(await screen.findByLabelText("Your password"), "secret-pw");
    await user.click(screen.getByRole("button", { name: "Set up two-factor" }));

    const qr = await screen.findByRole("img", { name: /QR code/ });
    expect(qr).toHaveAttribute("src", SETUP.qr_svg);
    expect(screen.getByTestId("totp-secret")).toHaveTextContent(SETUP.secret);
    expect(backend.sent("POST", "/api/auth/mfa/totp")[0]?.body).toEqual({
      current_password: "secret-pw",
    });

    await user.type(screen.getByLabelText("The 6-digit code the app shows"), " 123456 ");
    await user.click(screen.getByRole("button", { name: "Turn on two-factor" }));

    const list = await screen.findByTestId("recovery-codes");
    expect(list.querySelectorAll("li")).toHaveLength(10);
    expect(backend.sent("POST", "/api/auth/mfa/totp/confirm")[0]?.body).toEqual({ code: "123456" });

    await user.click(screen.getByRole("button", { name: "Copy the codes" }));
    expect(await navigator.clipboard.readText()).toBe(CODES.join("\n"));
    expect(screen.getByText("Copied.")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "I have saved them" }));
    expect(await screen.findByText(/Recovery codes left/)).toHaveTextContent("10");
    expect(screen.queryByTestId("recovery-codes")).toBeNull();
  });

  it("says why a wrong code was refused and keeps the setup", async () => {
    fakeBackend({
      "GET /api/auth/mfa/totp": () =>
        json(200, { enabled: false, pending: false, recovery_codes_remaining: 0 }),
      "POST /api/auth/mfa/totp": () => json(201, SETUP),
      "POST /api/auth/mfa/totp/confirm": () =>
        json(403, { detail: "Wrong or already used code.", code: "invalid_code" }),
    });
    await renderPage();
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Your password"), "pw");
    await user.click(screen.getByRole("button", { name: "Set up two-factor" }));
    await user.type(await screen.findByLabelText("The 6-digit code the app shows"), "000000");
    await user.click(screen.getByRole("button", { name: "Turn on two-factor" }));

    expect(await screen.findByRole("alert")).toHaveTextContent("wrong or was already used");
    expect(screen.getByRole("img", { name: /QR code/ })).toBeInTheDocument();
  });

  it("a wrong password at the start is shown, and no setup begins", async () => {
    fakeBackend({
      "GET /api/auth/mfa/totp": () =>
        json(200, { enabled: false, pending: false, recovery_codes_remaining: 0 }),
      "POST /api/auth/mfa/totp": () =>
        json(403, { detail: "Wrong password.", code: "invalid_credentials" }),
    });
    await renderPage();
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Your password"), "nope");
    await user.click(screen.getByRole("button", { name: "Set up two-factor" }));

    expect(await screen.findByRole("alert")).toHaveTextContent("Your password is wrong.");
    expect(screen.queryByRole("img")).toBeNull();
  });

  it("turns TOTP off with the password and a code", async () => {
    let enabled = true;
    const backend = fakeBackend({
      "GET /api/auth/mfa/totp": () =>
        json(200, { enabled, pending: false, recovery_codes_remaining: enabled ? 7 : 0 }),
      "DELETE /api/auth/mfa/totp": () => {
        enabled = false;
        return json(204);
      },
    });
    await renderPage();
    const user = userEvent.setup();
    expect(await screen.findByText(/Recovery codes left/)).toHaveTextContent("7");

    await user.type(screen.getByLabelText("Your password"), "pw");
    await user.type(screen.getByLabelText("A code from the app, or a recovery code"), "654321");
    await user.click(screen.getByRole("button", { name: "Turn off two-factor" }));

    await waitFor(() => expect(screen.getByText(/Two-factor is/)).toHaveTextContent("off"));
    expect(backend.sent("DELETE", "/api/auth/mfa/totp")[0]?.body).toEqual({
      current_password: "pw",
      code: "654321",
    });
  });
});
