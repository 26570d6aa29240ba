/**
 * The pieces every auth and account form repeats: a labelled input with its
 * error, the submit button with its busy label, and the error and notice lines.
 * Each renders the plain elements the page would write itself (no wrapper), so
 * the form's flex layout and the stylesheet's classes apply as before.
 */
import type { InputHTMLAttributes, ReactNode } from "react";

type InputProps = Omit<InputHTMLAttributes<HTMLInputElement>, "id" | "value" | "onChange">;

export interface FormFieldProps extends InputProps {
  id: string;
  label: ReactNode;
  value: string;
  onValueChange: (value: string) => void;
  /**
   * What is wrong with this field's value: shown under the input (`<id>-error`),
   * added to its aria-describedby, and the input marked aria-invalid.
   */
  error?: string | null;
}

/** `<label>` + `<input>` (+ the field's error), linked by id. */
export function FormField({
  id,
  label,
  value,
  onValueChange,
  error,
  "aria-describedby": describedBy,
  ...input
}: FormFieldProps) {
  const errorId = `${id}-error`;
  const describedByAll = [describedBy, error ? errorId : null].filter(Boolean).join(" ");
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <input
        {...input}
        id={id}
        value={value}
        onChange={(e) => onValueChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedByAll || undefined}
      />
      {error && (
        <p id={errorId} className="field-error">
          {error}
        </p>
      )}
    </>
  );
}

function isEmpty(children: ReactNode): boolean {
  return children === null || children === undefined || children === false || children === "";
}

/** The form's (or page's) error, announced as it appears; nothing when there is none. */
export function FormError({ children }: { children?: ReactNode }) {
  if (isEmpty(children)) return null;
  return (
    <p className="form-error" role="alert">
      {children}
    </p>
  );
}

/** A polite status line (done, sent, disabled…); nothing when empty. */
export function Notice({ children }: { children?: ReactNode }) {
  if (isEmpty(children)) return null;
  return (
    <p className="notice" role="status">
      {children}
    </p>
  );
}

export interface SubmitButtonProps {
  busy: boolean;
  /** The label while busy; without one the label stays. */
  busyLabel?: string;
  /** Disabled for another reason than being busy. */
  disabled?: boolean;
  className?: string;
  children: ReactNode;
}

/** The form's submit button: disabled, and relabelled, while the request runs. */
export function SubmitButton({
  busy,
  busyLabel,
  disabled = false,
  className = "primary",
  children,
}: SubmitButtonProps) {
  return (
    <button type="submit" className={className} disabled={busy || disabled}>
      {busy && busyLabel ? busyLabel : children}
    </button>
  );
}
