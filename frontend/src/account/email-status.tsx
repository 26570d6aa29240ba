import { useState } from "react";
import { useAuth } from "../auth/auth-provider";
import { resendVerification } from "./api";
import { errorText } from "./errors";

/** The account's address, whether it is confirmed, and a way to get a new link. */
export function EmailStatus() {
  const { user, api } = useAuth();
  const [state, setState] = useState<"idle" | "sending" | "sent">("idle");
  const [error, setError] = useState<string | null>(null);
  if (!user) return null;
  if (!user.email) return <p className="muted">No email address on this account.</p>;

  async function resend() {
    setState("sending");
    setError(null);
    try {
      await resendVerification(api);
      setState("sent");
    } catch (caught) {
      setError(errorText(caught, { email_already_verified: "This address is already confirmed." }));
      setState("idle");
    }
  }

  return (
    <p className="email-status">
      Email: <strong>{user.email}</strong>{" "}
      {user.email_verified ? (
        <span className="badge ok">confirmed</span>
      ) : (
        <>
          <span className="badge">not confirmed</span>{" "}
          {state === "sent" ? (
            <span role="status">We sent a new link; check your inbox.</span>
          ) : (
            <button type="button" onClick={resend} disabled={state === "sending"}>
              Send a confirmation link
            </button>
          )}
        </>
      )}
      {error && (
        <span className="form-error" role="alert">
          {" "}
          {error}
        </span>
      )}
    </p>
  );
}
