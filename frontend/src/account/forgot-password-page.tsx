import { type FormEvent, useState } from "react";
import { Link } from "react-router";
import { FormError, FormField, Notice, SubmitButton } from "../components/form";
import { requestPasswordReset } from "./api";
import { errorText } from "./errors";
import "./account.css";

/** Ask for a reset link. The answer is the same whether or not the address has an account. */
export function ForgotPasswordPage() {
  const [email, setEmail] = useState("");
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await requestPasswordReset(email.trim());
      setSent(true);
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="auth-page">
      <form className="auth-card" onSubmit={onSubmit} aria-labelledby="forgot-title">
        <h1 id="forgot-title">Forgot your password?</h1>
        {sent ? (
          <Notice>
            If an account has this address, we sent it a link to choose a new password. Check your
            inbox.
          </Notice>
        ) : (
          <>
            <p className="muted">Enter your account's email address; we'll send you a link.</p>
            <FormError>{error}</FormError>
            <FormField
              id="forgot-email"
              label="Email"
              type="email"
              autoComplete="email"
              required
              value={email}
              onValueChange={setEmail}
            />
            <SubmitButton busy={busy} busyLabel="Sending…">
              Send the link
            </SubmitButton>
          </>
        )}
        <p className="auth-switch">
          <Link to="/login">Back to sign in</Link>
        </p>
      </form>
    </main>
  );
}
