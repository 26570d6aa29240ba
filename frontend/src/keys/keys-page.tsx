import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";
import { useAuth } from "../auth/auth-provider";
import { ApiError } from "../auth/session";
import { ConfirmDialog } from "../components/confirm-dialog";
import { FormError, FormField, SubmitButton } from "../components/form";
import { type ApiKey, type CreatedApiKey, createKey, listKeys, revokeKey, SCOPES } from "./api";

function formatDate(value: string | null): string {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}

function status(key: ApiKey): string {
  if (key.revoked_at) return "Revoked";
  if (key.expires_at && Date.parse(key.expires_at) <= Date.now()) return "Expired";
  return "Active";
}

function NewKeyNotice({ created, onDone }: { created: CreatedApiKey; onDone: () => void }) {
  const [copied, setCopied] = useState<"idle" | "copied" | "failed">("idle");
  const inputRef = useRef<HTMLInputElement>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    headingRef.current?.focus();
  }, []);

  async function copy() {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied("copied");
    } catch {
      // Clipboard refused (insecure context, permissions): select it for Ctrl+C.
      inputRef.current?.select();
      setCopied("failed");
    }
  }

  return (
    <section className="new-key" aria-labelledby="new-key-title">
      <h2 id="new-key-title" ref={headingRef} tabIndex={-1}>
        Your new key “{created.name}”
      </h2>
      <p className="warning">
        Copy it now: <strong>you won't see it again.</strong> Send it in the <code>X-API-Key</code>{" "}
        header.
      </p>
      <div className="key-copy">
        <label htmlFor="new-key-value" className="visually-hidden">
          New API key
        </label>
        <input
          id="new-key-value"
          ref={inputRef}
          readOnly
          value={created.key}
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" onClick={copy}>
          Copy
        </button>
      </div>
      <p role="status" className="muted">
        {copied === "copied"
          ? "Copied to the clipboard."
          : copied === "failed"
            ? "Press Ctrl+C to copy."
            : ""}
      </p>
      <button type="button" onClick={onDone}>
        Done
      </button>
    </section>
  );
}

export function KeysPage() {
  const { api } = useAuth();
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [expires, setExpires] = useState("");
  const [dailyTokens, setDailyTokens] = useState("");
  const [scopes, setScopes] = useState<string[]>(["chat"]);
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);

  const load = useCallback(async () => {
    try {
      const page = await listKeys(api);
      setKeys(page.results);
      setError(null);
    } catch {
      setError("Could not load your API keys.");
    } finally {
      setLoading(false);
    }
  }, [api]);

  useEffect(() => {
    void load();
  }, [load]);

  async function onCreate(event: FormEvent) {
    event.preventDefault();
    if (!name.trim() || scopes.length === 0 || !password) return;
    setBusy(true);
    setFormError(null);
    try {
      const input = {
        name: name.trim(),
        password,
        scopes,
        // A date picks the end of that day in the user's time zone.
        ...(expires ? { expires_at: new Date(`${expires}T23:59:59`).toISOString() } : {}),
        ...(dailyTokens.trim() ? { daily_tokens: Number(dailyTokens) } : {}),
      };
      const key = await createKey(api, input);
      setCreated(key);
      setName("");
      setPassword("");
      setExpires("");
      setDailyTokens("");
      setScopes(["chat"]);
      await load();
    } catch (caught) {
      if (caught instanceof ApiError && caught.code === "invalid_credentials") {
        setFormError("Your password is wrong.");
      } else if (caught instanceof ApiError && caught.code === "password_required") {
        setFormError("Enter your password to create a key.");
      } else if (caught instanceof ApiError) {
        const fields = Object.values(caught.fieldErrors());
        setFormError(fields.length ? fields.join(" ") : caught.message);
      } else {
        setFormError("Could not create the key.");
      }
    } finally {
      setBusy(false);
    }
  }

  async function onRevoke(key: ApiKey) {
    setRevoking(null);
    try {
      await revokeKey(api, key.id);
      await load();
    } catch {
      setError(`Could not revoke “${key.name}”.`);
    }
  }

  const today = new Date().toISOString().slice(0, 10);

  return (
    <main id="main" className="keys-page">
      <h1>API keys</h1>
      <p className="muted">
        Scripts and other servers authenticate with an API key in the <code>X-API-Key</code> header.
      </p>

      {created && <NewKeyNotice created={created} onDone={() => setCreated(null)} />}

      <form className="key-form" onSubmit={onCreate} aria-labelledby="create-key-title">
        <h2 id="create-key-title">Create a key</h2>
        <FormError>{formError}</FormError>
        <div className="field">
          <FormField
            id="key-name"
            label="Name"
            required
            maxLength={100}
            value={name}
            onValueChange={setName}
            placeholder="e.g. nightly report script"
          />
        </div>
        <div className="field">
          <FormField
            id="key-expires"
            label="Expires on (optional)"
            type="date"
            min={today}
            value={expires}
            onValueChange={setExpires}
          />
        </div>
        <div className="field">
          <FormField
            id="key-password"
            label="Your password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onValueChange={setPassword}
          />
          <FormField
            id="key-daily-tokens"
            label="Daily token limit (optional)"
            type="number"
            inputMode="numeric"
            min={0}
            step={1}
            value={dailyTokens}
            onValueChange={setDailyTokens}
            aria-describedby="key-daily-tokens-hint"
            placeholder="no limit of its own"
          />
          <small id="key-daily-tokens-hint" className="muted">
            Input + output tokens this key may use per day (UTC). Your own daily limit applies too.
          </small>
        </div>
        <fieldset className="field scopes">
          <legend>Scopes</legend>
          {SCOPES.map((scope) => (
            <label key={scope.value} className="checkbox">
              <input
                type="checkbox"
                checked={scopes.includes(scope.value)}
                onChange={(e) =>
                  setScopes((prev) =>
                    e.target.checked
                      ? [...prev, scope.value]
                      : prev.filter((value) => value !== scope.value),
                  )
                }
              />{" "}
              {scope.label} <code>{scope.value}</code>
            </label>
          ))}
        </fieldset>
        <SubmitButton
          busy={busy}
          busyLabel="Creating…"
          disabled={!name.trim() || scopes.length === 0 || !password}
        >
          Create key
        </SubmitButton>
      </form>

      <h2>Your keys</h2>
      <FormError>{error}</FormError>
      {loading ? (
        <p role="status">Loading…</p>
      ) : keys.length === 0 ? (
        <p className="muted">No keys yet.</p>
      ) : (
        <div className="table-wrap">
          <table className="keys-table">
            <caption className="visually-hidden">Your API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((key) => (
                <tr key={key.id}>
                  <th scope="row">{key.name}</th>
                  <td>
                    <code>{key.prefix}</code>
                  </td>
                  <td>{key.scopes?.length ? key.scopes.join(", ") : "—"}</td>
                  <td>{formatDate(key.created_at)}</td>
                  <td>{key.last_used_at ? formatDate(key.last_used_at) : "Never"}</td>
                  <td>{key.expires_at ? formatDate(key.expires_at) : "Never"}</td>
                  <td>{status(key)}</td>
                  <td>
                    {!key.revoked_at && (
                      <button
                        type="button"
                        className="danger"
                        aria-label={`Revoke ${key.name}`}
                        onClick={() => setRevoking(key)}
                      >
                        Revoke
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
          title={`Revoke “${revoking.name}”?`}
          confirmLabel="Revoke"
          onCancel={() => setRevoking(null)}
          onConfirm={() => void onRevoke(revoking)}
        >
          <p>Programs using this key will get 401 from now on. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </main>
  );
}
