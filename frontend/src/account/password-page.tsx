import { type FormEvent, useState } from "react";
import { useAuth } from "../auth/auth-provider";
import { FormError, FormField, Notice, SubmitButton } from "../components/form";
import { changePassword } from "./api";
import { errorText } from "./errors";

/** Change the password (the current one is needed); every other session ends. */
export function PasswordPage() {
  const { api } = useAuth();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    if (next !== repeat) {
      setError("The new passwords do not match.");
      return;
    }
    setBusy(true);
    setError(null);
    setDone(false);
    try {
      await changePassword(api, current, next);
      setDone(true);
      setCurrent("");
      setNext("");
      setRepeat("");
    } catch (caught) {
      setError(errorText(caught, { invalid_credentials: "Your current password is wrong." }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="account-form" onSubmit={onSubmit} aria-labelledby="password-title">
      <h2 id="password-title">Change password</h2>
      {done && <Notice>Password changed. Your other sessions were signed out.</Notice>}
      <FormError>{error}</FormError>
      <FormField
        id="current-password"
        label="Current password"
        type="password"
        autoComplete="current-password"
        required
        value={current}
        onValueChange={setCurrent}
      />
      <FormField
        id="new-password"
        label="New password"
        type="password"
        autoComplete="new-password"
        required
        value={next}
        onValueChange={setNext}
      />
      <FormField
        id="repeat-password"
        label="New password again"
        type="password"
        autoComplete="new-password"
        required
        value={repeat}
        onValueChange={setRepeat}
      />
      <SubmitButton busy={busy} busyLabel="Changing…">
        Change password
      </SubmitButton>
    </form>
  );
}
