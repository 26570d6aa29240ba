import { type FormEvent, useState } from "react";
import { Link, Navigate, useLocation, useNavigate } from "react-router";
import { useAppConfig } from "../config/use-app-config";
import { useAuth } from "./auth-provider";
import { ApiError } from "./session";

interface LocationState {
  from?: string;
  reason?: string | null;
}

export function LoginPage() {
  const { login, status, reason: sessionReason } = useAuth();
  const config = useAppConfig();
  const navigate = useNavigate();
  const location = useLocation();
  const state = (location.state ?? {}) as LocationState;
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const from = state.from && state.from !== "/login" ? state.from : "/";

  if (status === "authenticated" && !busy) return <Navigate to={from} replace />;

  const reason = state.reason ?? sessionReason;

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username, password);
      navigate(from, { replace: true });
    } catch (caught) {
      setError(
        caught instanceof ApiError && caught.status === 401
          ? "Wrong username or password."
          : caught instanceof ApiError
            ? caught.message
            : "Could not reach the server. Try again.",
      );
      setBusy(false);
    }
  }

  return (
    <main className="auth-page">
      <form className="auth-card" onSubmit={onSubmit} aria-labelledby="login-title">
        <h1 id="login-title">Sign in</h1>
        {reason && !error && (
          <p className="notice" role="status">
            {reason}
          </p>
        )}
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <label htmlFor="login-username">Username</label>
        <input
          id="login-username"
          name="username"
          autoComplete="username"
          required
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
        <label htmlFor="login-password">Password</label>
        <input
          id="login-password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {config?.signup_enabled && (
          <p className="auth-switch">
            No account yet? <Link to="/signup">Create one</Link>
          </p>
        )}
      </form>
    </main>
  );
}
