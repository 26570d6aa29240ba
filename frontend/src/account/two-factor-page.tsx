import { type FormEvent, useCallback, useEffect, useState } from "react";
import { useAuth } from "../auth/auth-provider";
import { FormError, FormField, SubmitButton } from "../components/form";
import {
  beginTotp,
  confirmTotp,
  disableTotp,
  type MfaStatus,
  mfaStatus,
  type TotpSetup,
} from "./api";
import { errorText } from "./errors";

const MESSAGES = {
  invalid_credentials: "Your password is wrong.",
  invalid_code: "That code is wrong or was already used. Wait for the next one.",
  mfa_not_pending: "The setup expired; start again.",
};

/**
 * TOTP two-factor: off → password → QR code and secret → first code → the
 * recovery codes (shown once) → on; and off again with the password and a code.
 */
export function TwoFactorPage() {
  const { api } = useAuth();
  const [status, setStatus] = useState<MfaStatus | null>(null);
  const [setup, setSetup] = useState<TotpSetup | null>(null);
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setStatus(await mfaStatus(api));
    } catch {
      setError("Could not load your two-factor settings.");
    }
  }, [api]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <section aria-labelledby="two-factor-title" className="two-factor">
      <h2 id="two-factor-title">Two-factor authentication</h2>
      <p className="muted">
        With two-factor on, signing in also asks for a 6-digit code from an authenticator app
        (Aegis, Google Authenticator, 1Password…).
      </p>
      <FormError>{error}</FormError>
      {recoveryCodes ? (
        <RecoveryCodes
          codes={recoveryCodes}
          onDone={() => {
            setRecoveryCodes(null);
            void load();
          }}
        />
      ) : status === null ? (
        !error && <p role="status">Loading…</p>
      ) : status.enabled ? (
        <Disable status={status} onDisabled={() => void load()} />
      ) : setup ? (
        <Confirm
          setup={setup}
          onConfirmed={(codes) => {
            setSetup(null);
            setRecoveryCodes(codes);
          }}
        />
      ) : (
        <Begin onBegun={setSetup} />
      )}
    </section>
  );
}

/**
 * A step's form: busy from submit until `run` settles; on failure the reason
 * and the form back. On success it stays busy: the page moves on to the next step.
 */
function useStep(run: () => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await run();
    } catch (caught) {
      setError(errorText(caught, MESSAGES));
      setBusy(false);
    }
  }

  return { busy, error, onSubmit };
}

function Begin({ onBegun }: { onBegun: (setup: TotpSetup) => void }) {
  const { api } = useAuth();
  const [password, setPassword] = useState("");
  const { busy, error, onSubmit } = useStep(async () => onBegun(await beginTotp(api, password)));

  return (
    <form className="account-form" onSubmit={onSubmit}>
      <p>
        Two-factor is <strong>off</strong>.
      </p>
      <FormError>{error}</FormError>
      <FormField
        id="totp-begin-password"
        label="Your password"
        type="password"
        autoComplete="current-password"
        required
        value={password}
        onValueChange={setPassword}
      />
      <SubmitButton busy={busy}>Set up two-factor</SubmitButton>
    </form>
  );
}

function Confirm({
  setup,
  onConfirmed,
}: {
  setup: TotpSetup;
  onConfirmed: (codes: string[]) => void;
}) {
  const { api } = useAuth();
  const [code, setCode] = useState("");
  const { busy, error, onSubmit } = useStep(async () =>
    onConfirmed((await confirmTotp(api, code.trim())).recovery_codes),
  );

  return (
    <form className="account-form" onSubmit={onSubmit}>
      <p>Scan this QR code with your authenticator app:</p>
      <img className="qr-code" src={setup.qr_svg} alt="QR code for your authenticator app" />
      <p className="muted">
        Or type this key into the app: <code data-testid="totp-secret">{setup.secret}</code>
      </p>
      <FormError>{error}</FormError>
      <FormField
        id="totp-confirm-code"
        label="The 6-digit code the app shows"
        inputMode="numeric"
        autoComplete="one-time-code"
        required
        value={code}
        onValueChange={setCode}
      />
      <SubmitButton busy={busy}>Turn on two-factor</SubmitButton>
    </form>
  );
}

function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const [copied, setCopied] = useState<boolean | null>(null);

  async function copy() {
    try {
      await navigator.clipboard.writeText(codes.join("\n"));
      setCopied(true);
    } catch {
      setCopied(false); // insecure context or refused: the user selects them by hand
    }
  }

  return (
    <div className="new-key recovery-codes">
      <h3>Two-factor is on. Save your recovery codes</h3>
      <p className="warning">
        Each code signs you in once if you lose your phone.{" "}
        <strong>They are shown only now.</strong>
      </p>
      <ul aria-label="Recovery codes" data-testid="recovery-codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ul>
      <p role="status" className="muted">
        {copied === true ? "Copied." : copied === false ? "Select the codes and copy them." : ""}
      </p>
      <button type="button" onClick={copy}>
        Copy the codes
      </button>{" "}
      <button type="button" onClick={onDone}>
        I have saved them
      </button>
    </div>
  );
}

function Disable({ status, onDisabled }: { status: MfaStatus; onDisabled: () => void }) {
  const { api } = useAuth();
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const { busy, error, onSubmit } = useStep(async () => {
    await disableTotp(api, password, code.trim());
    onDisabled();
  });

  return (
    <form className="account-form" onSubmit={onSubmit}>
      <p>
        Two-factor is <strong>on</strong>. Recovery codes left:{" "}
        <strong>{status.recovery_codes_remaining}</strong>.
      </p>
      <FormError>{error}</FormError>
      <FormField
        id="totp-disable-password"
        label="Your password"
        type="password"
        autoComplete="current-password"
        required
        value={password}
        onValueChange={setPassword}
      />
      <FormField
        id="totp-disable-code"
        label="A code from the app, or a recovery code"
        autoComplete="one-time-code"
        required
        value={code}
        onValueChange={setCode}
      />
      <SubmitButton busy={busy} className="danger">
        Turn off two-factor
      </SubmitButton>
    </form>
  );
}
