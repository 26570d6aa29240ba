import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeBackend, json } from "../account/test-backend";
import { AuthProvider } from "./auth-provider";
import { LoginPage } from "./login-page";
import { AuthSession } from "./session";

const FUTURE = "2999-01-01T00:00:00Z";
const USER = { id: 1, username: "owner", email: "", email_verified: false };

afterEach(() => {
  vi.unstubAllGlobals();
});

function renderLogin() {
  const session = new AuthSession({ setTimeout: () => 0, clearTimeout: () => {} });
  const router = createMemoryRouter(
    [
      { path: "/login", element: <LoginPage /> },
      { path: "/", element: <p>Chat home</p> },
      { path: "/forgot-password", element: <p>Forgot page</p> },
    ],
    { initialEntries: ["/login"] },
  );
  render(
    <AuthProvider session={session}>
      <RouterProvider router={router} />
    </AuthProvider>,
  );
  return session;
}

async function signIn() {
  const user = userEvent.setup();
  await user.type(await screen.findByLabelText("Username"), "owner");
  await user.type(screen.getByLabelText("Password"), "pw");
  await user.click(screen.getByRole("button", { name: "Sign in" }));
  return user;
}

const NOT_LOGGED_IN = () => json(401, { detail: "No refresh cookie.", code: "not_authenticated" });

describe("LoginPage with two-factor", () => {
  it("asks for the code after the password and finishes the login with it", async () => {
    const backend = fakeBackend({
      "POST /api/auth/token/refresh": NOT_LOGGED_IN,
      "POST /api/auth/token": () => json(200, { mfa_required: true, mfa_token: "mfa-1" }),
      "POST /api/auth/token/mfa": () =>
        json(200, { access: "tok", access_expires_at: FUTURE, user: USER }),
    });
    const session = renderLogin();

    const user = await signIn();
    await user.type(await screen.findByLabelText("Code"), "123456");
    await user.click(screen.getByRole("button", { name: "Verify" }));

    expect(await screen.findByText("Chat home")).toBeInTheDocument();
    expect(session.getState().status).toBe("authenticated");
    expect(session.getToken()).toBe("tok");
    expect(backend.sent("POST", "/api/auth/token/mfa")[0]?.body).toEqual({
      mfa_token: "mfa-1",
      code: "123456",
    });
  });

  it("a wrong code can be retried; an expired step goes back to the password", async () => {
    let answer = json(401, { detail: "Wrong.", code: "invalid_code" });
    fakeBackend({
      "POST /api/auth/token/refresh": NOT_LOGGED_IN,
      "POST /api/auth/token": () => json(200, { mfa_required: true, mfa_token: "mfa-1" }),
      "POST /api/auth/token/mfa": () => answer,
    });
    const session = renderLogin();
    const user = await signIn();

    await user.type(await screen.findByLabelText("Code"), "000000");
    await user.click(screen.getByRole("button", { name: "Verify" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong or already used code");
    expect(session.getState().status).toBe("anonymous");

    answer = json(401, { detail: "Expired.", code: "mfa_token_invalid" });
    await user.click(screen.getByRole("button", { name: "Verify" }));
    await waitFor(() => expect(screen.getByLabelText("Password")).toBeInTheDocument());
    expect(screen.getByRole("alert")).toHaveTextContent("Enter your password again");
  });

  it("without two-factor the password logs in at once; a forgot link is offered", async () => {
    const backend = fakeBackend({ "POST /api/auth/token/refresh": NOT_LOGGED_IN });
    renderLogin();
    expect(await screen.findByRole("link", { name: "Forgot your password?" })).toHaveAttribute(
      "href",
      "/forgot-password",
    );
    await signIn();
    expect(await screen.findByText("Chat home")).toBeInTheDocument();
    expect(backend.sent("POST", "/api/auth/token/mfa")).toHaveLength(0);
  });
});
