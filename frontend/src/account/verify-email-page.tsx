import { useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useAuth } from "../auth/auth-provider";
import { verifyEmail } from "./api";
import { errorText } from "./errors";
import "./account.css";

type State = "verifying" | "done" | "failed";

/** `/verify-email?uid=…&token=…`, the link in the verification email. */
export function VerifyEmailPage() {
  const [params] = useSearchParams();
  const { status } = useAuth();
  const [state, setState] = useState<State>("verifying");
  const [error, setError] = useState<string | null>(null);
  // The link works once: StrictMode's second effect run must not post it again.
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    const uid = params.get("uid") ?? "";
    const token = params.get("token") ?? "";
    verifyEmail({ uid, token })
      .then(() => setState("done"))
      .catch((caught: unknown) => {
        setError(
          errorText(caught, {
            verification_token_invalid:
              "This link is invalid, already used or expired. Ask for a new one on the Account page.",
            invalid: "This link is incomplete. Open it from the email again.",
          }),
        );
        setState("failed");
      });
  }, [params]);

  const next = status === "authenticated" ? "/" : "/login";

  return (
    <main className="auth-page">
      <section className="auth-card" aria-labelledby="verify-title">
        <h1 id="verify-title">Confirm your email</h1>
        {state === "verifying" && <p role="status">Confirming…</p>}
        {state === "done" && (
          <p className="notice" role="status">
            Your email address is confirmed. <Link to={next}>Continue</Link>
          </p>
        )}
        {state === "failed" && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
      </section>
    </main>
  );
}
