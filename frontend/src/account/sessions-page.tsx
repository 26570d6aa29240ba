import { useCallback, useEffect, useState } from "react";
import { useAuth } from "../auth/auth-provider";
import { ConfirmDialog } from "../components/confirm-dialog";
import { FormError } from "../components/form";
import { type AccountSession, listSessions, revokeSession } from "./api";

function when(value: string | null): string {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}

/** Where you are signed in (each a refresh-token family), and a way to end any other. */
export function SessionsPage() {
  const { api } = useAuth();
  const [sessions, setSessions] = useState<AccountSession[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<AccountSession | null>(null);

  const load = useCallback(async () => {
    try {
      setSessions((await listSessions(api)).results);
      setError(null);
    } catch {
      setError("Could not load your sessions.");
    }
  }, [api]);

  useEffect(() => {
    void load();
  }, [load]);

  async function onRevoke(session: AccountSession) {
    setRevoking(null);
    try {
      await revokeSession(api, session.id);
    } catch {
      setError("Could not end that session.");
    }
    await load();
  }

  return (
    <section aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <p className="muted">
        Every browser or device where you are signed in. Ending a session signs it out at its next
        request.
      </p>
      <FormError>{error}</FormError>
      {sessions === null ? (
        !error && <p role="status">Loading…</p>
      ) : (
        <div className="table-wrap">
          <table className="keys-table sessions-table">
            <caption className="visually-hidden">Your sessions</caption>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">IP address</th>
                <th scope="col">Signed in</th>
                <th scope="col">Last active</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((session) => (
                <tr key={session.id} data-testid="session-row">
                  <th scope="row">
                    {session.user_agent || "Unknown device"}
                    {session.current && <span className="badge ok"> this browser</span>}
                  </th>
                  <td>{session.ip || "—"}</td>
                  <td>{when(session.created_at)}</td>
                  <td>{when(session.last_used_at)}</td>
                  <td>
                    {!session.current && (
                      <button
                        type="button"
                        className="danger"
                        aria-label={`End session on ${session.user_agent || "unknown device"}`}
                        onClick={() => setRevoking(session)}
                      >
                        End session
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {revoking && (
        <ConfirmDialog
          title="End this session?"
          confirmLabel="End session"
          onCancel={() => setRevoking(null)}
          onConfirm={() => void onRevoke(revoking)}
        >
          <p>{revoking.user_agent || "That device"} will be signed out at its next request.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
