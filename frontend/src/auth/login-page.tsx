import { type FormEvent, useState } from "react";
import { Link, Navigate, useLocation, useNavigate } from "react-router";
import { FormError, FormField, Notice, SubmitButton } from "../components/form";
import { useAppConfig } from "../config/use-app-config";
import { useAuth } from "./auth-provider";
import { ApiError, MfaRequiredError } from "./session";

interface LocationState {
  from?: string;
  reason?: string | null;
}

export function LoginPage() {
  const { login, session, status, reason: sessionReason } = useAuth();
  const config = useAppConfig();
  const navigate = useNavigate();
  const location = useLocation();
  const state = (location.state ?? {}) as LocationState;
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Set when the password was right and two-factor is on: the second step's token.
  const [mfaToken, setMfaToken] = useState<string | null>(null);
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
      if (caught instanceof MfaRequiredError) {
        setMfaToken(caught.mfaToken);
        setPassword("");
        setBusy(false);
        return;
      }
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

  if (mfaToken) {
    return (
      <MfaStep
        onSubmit={async (code) => {
          await session.completeMfaLogin(mfaToken, code);
          navigate(from, { replace: true });
        }}
        onRestart={(message) => {
          setMfaToken(null);
          setError(message);
        }}
      />
    );
  }

  return (
    <main className="auth-page">
      <form className="auth-card" onSubmit={onSubmit} aria-labelledby="login-title">
        <h1 id="login-title">Sign in</h1>
        {reason && !error && <Notice>{reason}</Notice>}
        <FormError>{error}</FormError>
        <FormField
          id="login-username"
          label="Username"
          name="username"
          autoComplete="username"
          required
          value={username}
          onValueChange={setUsername}
        />
        <FormField
          id="login-password"
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onValueChange={setPassword}
        />
        <SubmitButton busy={busy} busyLabel="Signing in…">
          Sign in
        </SubmitButton>
        <p className="auth-switch">
          <Link to="/forgot-password">Forgot your password?</Link>
        </p>
        {config?.signup_enabled && (
          <p className="auth-switch">
            No account yet? <Link to="/signup">Create one</Link>
          </p>
        )}
      </form>
    </main>
  );
}

/** The login's second step: a code from the authenticator app, or a recovery code. */
function MfaStep({
  onSubmit,
  onRestart,
}: {
  onSubmit: (code: string) => Promise<void>;
  onRestart: (message: string) => void;
}) {
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit(code.trim());
    } catch (caught) {
      setBusy(false);
      if (caught instanceof ApiError && caught.code === "mfa_token_invalid") {
        onRestart("That took too long. Enter your password again.");
      } else if (caught instanceof ApiError && caught.code === "invalid_code") {
        setError("Wrong or already used code. Wait for the next one and try again.");
      } else {
        setError(caught instanceof ApiError ? caught.message : "Could not reach the server.");
      }
    }
  }

  return (
    <main className="auth-page">
      <form className="auth-card" onSubmit={submit} aria-labelledby="mfa-title">
        <h1 id="mfa-title">Two-factor code</h1>
        <p className="muted">
          Enter the 6-digit code from your authenticator app, or one of your recovery codes.
        </p>
        <FormError>{error}</FormError>
        <FormField
          id="login-code"
          label="Code"
          name="code"
          autoComplete="one-time-code"
          required
          // Focus on arrival: the only field of this step, reached by submitting the last one.
          autoFocus
          value={code}
          onValueChange={setCode}
        />
        <SubmitButton busy={busy} busyLabel="Checking…">
          Verify
        </SubmitButton>
      </form>
    </main>
  );
}
