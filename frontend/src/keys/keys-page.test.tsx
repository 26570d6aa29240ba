import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeBackend, json, loggedInSession } from "../account/test-backend";
import { AuthProvider } from "../auth/auth-provider";
import { KeysPage } from "./keys-page";

afterEach(() => {
  vi.unstubAllGlobals();
});

const CREATED = {
  id: 1,
  name: "script",
  prefix: "0123456789ab",
  scopes: ["chat"],
  created_at: "2026-12-01T09:00:00Z",
  last_used_at: null,
  expires_at: null,
  revoked_at: null,
  key: "sk_0123456789ab_secret",
};

async function renderPage() {
  const session = await loggedInSession();
  render(
    <AuthProvider session={session}>
      <KeysPage />
    </AuthProvider>,
  );
}

describe("KeysPage", () => {
  it("creating a key sends the account password", async () => {
    const backend = fakeBackend({
      "GET /api/keys": () => json(200, { results: [], next: null, previous: null }),
      "POST /api/keys": () => json(201, CREATED),
    });
    await renderPage();
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Name"), "script");
    const create = screen.getByRole("button", { name: "Create key" });
    expect(create).toBeDisabled(); // no password yet

    await user.type(screen.getByLabelText("Your password"), "my-password");
    await user.click(create);

    expect(await screen.findByLabelText("New API key")).toHaveValue(CREATED.key);
    expect(backend.sent("POST", "/api/keys")[0]?.body).toEqual({
      name: "script",
      password: "my-password",
      scopes: ["chat"],
    });
    expect(screen.getByLabelText("Your password")).toHaveValue("");
  });

  it("a wrong password is explained", async () => {
    fakeBackend({
      "GET /api/keys": () => json(200, { results: [], next: null, previous: null }),
      "POST /api/keys": () => json(403, { detail: "Wrong.", code: "invalid_credentials" }),
    });
    await renderPage();
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Name"), "script");
    await user.type(screen.getByLabelText("Your password"), "nope");
    await user.click(screen.getByRole("button", { name: "Create key" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Your password is wrong.");
  });
});
