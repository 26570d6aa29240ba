import { type FormEvent, useState } from "react";
import { Link, Navigate, useNavigate } from "react-router";
import { FormError, FormField, Notice, SubmitButton } from "../components/form";
import { useAppConfig } from "../config/use-app-config";
import { useAuth } from "./auth-provider";
import { ApiError } from "./session";

export function SignupPage() {
  const { register, status } = useAuth();
  const config = useAppConfig();
  const navigate = useNavigate();
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  if (status === "authenticated" && !busy) return <Navigate to="/" replace />;

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setFieldErrors({});
    try {
      await register({ username, password, ...(email ? { email } : {}) });
      navigate("/", { replace: true });
    } catch (caught) {
      if (caught instanceof ApiError) {
        const fields = caught.fieldErrors();
        setFieldErrors(fields);
        setError(Object.keys(fields).length > 0 ? "Please fix the fields below." : caught.message);
      } else {
        setError("Could not reach the server. Try again.");
      }
      setBusy(false);
    }
  }

  const disabled = config !== null && !config.signup_enabled;

  return (
    <main className="auth-page">
      <form className="auth-card" onSubmit={onSubmit} aria-labelledby="signup-title" noValidate>
        <h1 id="signup-title">Create an account</h1>
        {disabled && (
          <Notice>Sign-up is disabled on this server. Ask an administrator for an account.</Notice>
        )}
        <FormError>{error}</FormError>
        <FormField
          id="signup-username"
          label="Username"
          autoComplete="username"
          required
          value={username}
          error={fieldErrors.username}
          onValueChange={setUsername}
        />
        <FormField
          id="signup-email"
          label="Email (optional)"
          type="email"
          autoComplete="email"
          value={email}
          error={fieldErrors.email}
          onValueChange={setEmail}
        />
        <FormField
          id="signup-password"
          label="Password"
          type="password"
          autoComplete="new-password"
          required
          value={password}
          error={fieldErrors.password}
          onValueChange={setPassword}
        />
        <SubmitButton busy={busy} busyLabel="Creating account…" disabled={disabled}>
          Create account
        </SubmitButton>
        <p className="auth-switch">
          Already have an account? <Link to="/login">Sign in</Link>
        </p>
      </form>
    </main>
  );
}
