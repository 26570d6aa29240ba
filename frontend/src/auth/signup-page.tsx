import { type FormEvent, useState } from "react";
import { Link, Navigate, useNavigate } from "react-router";
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
          <p className="notice" role="status">
            Sign-up is disabled on this server. Ask an administrator for an account.
          </p>
        )}
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <label htmlFor="signup-username">Username</label>
        <input
          id="signup-username"
          autoComplete="username"
          required
          value={username}
          aria-invalid={Boolean(fieldErrors.username)}
          aria-describedby={fieldErrors.username ? "signup-username-error" : undefined}
          onChange={(e) => setUsername(e.target.value)}
        />
        {fieldErrors.username && (
          <p id="signup-username-error" className="field-error">
            {fieldErrors.username}
          </p>
        )}
        <label htmlFor="signup-email">Email (optional)</label>
        <input
          id="signup-email"
          type="email"
          autoComplete="email"
          value={email}
          aria-invalid={Boolean(fieldErrors.email)}
          aria-describedby={fieldErrors.email ? "signup-email-error" : undefined}
          onChange={(e) => setEmail(e.target.value)}
        />
        {fieldErrors.email && (
          <p id="signup-email-error" className="field-error">
            {fieldErrors.email}
          </p>
        )}
        <label htmlFor="signup-password">Password</label>
        <input
          id="signup-password"
          type="password"
          autoComplete="new-password"
          required
          value={password}
          aria-invalid={Boolean(fieldErrors.password)}
          aria-describedby={fieldErrors.password ? "signup-password-error" : undefined}
          onChange={(e) => setPassword(e.target.value)}
        />
        {fieldErrors.password && (
          <p id="signup-password-error" className="field-error">
            {fieldErrors.password}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || disabled}>
          {busy ? "Creating account…" : "Create account"}
        </button>
        <p className="auth-switch">
          Already have an account? <Link to="/login">Sign in</Link>
        </p>
      </form>
    </main>
  );
}
