import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../auth/auth-provider";
import { SessionsPage } from "./sessions-page";
import { fakeBackend, json, loggedInSession } from "./test-backend";

afterEach(() => {
  vi.unstubAllGlobals();
});

const HERE = {
  id: "aaaa",
  created_at: "2026-12-01T08:00:00Z",
  last_used_at: "2026-12-01T09:00:00Z",
  user_agent: "Firefox on Linux",
  ip: "203.0.113.5",
  current: true,
};
const THERE = { ...HERE, id: "bbbb", user_agent: "Safari on iPhone", current: false };

describe("SessionsPage", () => {
  it("lists the sessions and ends another one after a confirmation", async () => {
    let live = [HERE, THERE];
    const backend = fakeBackend({
      "GET /api/auth/sessions": () => json(200, { results: live }),
      "DELETE /api/auth/sessions/bbbb": () => {
        live = [HERE];
        return json(204);
      },
    });
    const session = await loggedInSession();
    render(
      <AuthProvider session={session}>
        <SessionsPage />
      </AuthProvider>,
    );
    const user = userEvent.setup();

    const [here, there, ...rest] = await screen.findAllByTestId("session-row");
    if (!here || !there) throw new Error("expected two session rows");
    expect(rest).toHaveLength(0);
    expect(within(here).getByText(/this browser/)).toBeInTheDocument();
    expect(within(here).queryByRole("button")).toBeNull(); // log out ends this one
    expect(there).toHaveTextContent("203.0.113.5");

    await user.click(within(there).getByRole("button", { name: /End session on Safari/ }));
    await user.click(
      within(screen.getByRole("alertdialog")).getByRole("button", { name: "End session" }),
    );

    await waitFor(() => expect(screen.getAllByTestId("session-row")).toHaveLength(1));
    expect(backend.sent("DELETE", "/api/auth/sessions/bbbb")).toHaveLength(1);
    expect(backend.sent("DELETE", "/api/auth/sessions/bbbb")[0]?.auth).toBe("Bearer tok");
  });

  it("says so when the list cannot be loaded", async () => {
    fakeBackend({
      "GET /api/auth/sessions": () => json(500, { detail: "x", code: "server_error" }),
    });
    const session = await loggedInSession();
    render(
      <AuthProvider session={session}>
        <SessionsPage />
      </AuthProvider>,
    );
    expect(await screen.findByRole("alert")).toHaveTextContent("Could not load your sessions.");
  });
});
