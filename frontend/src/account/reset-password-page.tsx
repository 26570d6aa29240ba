import { type FormEvent, useEffect, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { FormError, FormField, Notice, SubmitButton } from "../components/form";
import { confirmPasswordReset } from "./api";
import { errorText } from "./errors";
import "./account.css";

const INVALID = "This link is invalid, already used or expired. Ask for a new one.";

/** `/reset-password?uid=…&token=…`, the link in the reset email: choose a new password. */
export function ResetPasswordPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  // Read once, then dropped from the address bar: the token stays out of the
  // browser's history on a shared computer (reopen the email to start again).
  const [{ uid, token }] = useState(() => ({
    uid: params.get("uid") ?? "",
    token: params.get("token") ?? "",
  }));
  useEffect(() => {
    if (params.has("token")) navigate("/reset-password", { replace: true });
  }, [params, navigate]);
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(uid && token ? null : INVALID);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    if (password !== repeat) {
      setError("The passwords do not match.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await confirmPasswordReset({ uid, token, new_password: password });
      setDone(true);
    } catch (caught) {
      setError(errorText(caught, { reset_token_invalid: INVALID }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="auth-page">
      <form className="auth-card" onSubmit={onSubmit} aria-labelledby="reset-title">
        <h1 id="reset-title">Choose a new password</h1>
        {done ? (
          <Notice>
            Your password was changed and every session signed out. <Link to="/login">Sign in</Link>{" "}
            with the new one.
          </Notice>
        ) : (
          <>
            {error && (
              <FormError>
                {error} {error === INVALID && <Link to="/forgot-password">Get a new link</Link>}
              </FormError>
            )}
            <FormField
              id="reset-password"
              label="New password"
              type="password"
              autoComplete="new-password"
              required
              value={password}
              onValueChange={setPassword}
            />
            <FormField
              id="reset-repeat"
              label="New password again"
              type="password"
              autoComplete="new-password"
              required
              value={repeat}
              onValueChange={setRepeat}
            />
            <SubmitButton busy={busy} busyLabel="Saving…" disabled={!uid || !token}>
              Set the new password
            </SubmitButton>
          </>
        )}
      </form>
    </main>
  );
}
