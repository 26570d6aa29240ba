import { render, screen } from "@testing-library/react";
import { StrictMode } from "react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../auth/auth-provider";
import { AuthSession } from "../auth/session";
import { fakeBackend, json } from "./test-backend";
import { VerifyEmailPage } from "./verify-email-page";

afterEach(() => {
  vi.unstubAllGlobals();
});

function renderAt(path: string) {
  const session = new AuthSession({ setTimeout: () => 0, clearTimeout: () => {} });
  render(
    <StrictMode>
      <AuthProvider session={session}>
        <MemoryRouter initialEntries={[path]}>
          <VerifyEmailPage />
        </MemoryRouter>
      </AuthProvider>
    </StrictMode>,
  );
}

describe("VerifyEmailPage", () => {
  it("posts the link once, even under StrictMode, and confirms", async () => {
    const backend = fakeBackend({
      "POST /api/auth/email/verify": () => json(204),
      "POST /api/auth/token/refresh": () => json(401, { detail: "x", code: "not_authenticated" }),
    });
    renderAt("/verify-email?uid=MQ&token=t-1");

    expect(await screen.findByText(/is confirmed/)).toBeInTheDocument();
    const posts = backend.sent("POST", "/api/auth/email/verify");
    expect(posts).toHaveLength(1);
    expect(posts[0]?.body).toEqual({ uid: "MQ", token: "t-1" });
  });

  it("explains a used link", async () => {
    fakeBackend({
      "POST /api/auth/email/verify": () =>
        json(400, { detail: "x", code: "verification_token_invalid" }),
      "POST /api/auth/token/refresh": () => json(401, { detail: "x", code: "not_authenticated" }),
    });
    renderAt("/verify-email?uid=MQ&token=used");
    expect(await screen.findByRole("alert")).toHaveTextContent("already used or expired");
  });
});
