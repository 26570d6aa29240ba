import { type FormEvent, type KeyboardEvent, useEffect, useId, useState } from "react";

/** The message box: Enter sends, Shift+Enter adds a line, Esc stops a reply; Stop while streaming. */
export function Composer({
  isLoading,
  disabled,
  onSend,
  onStop,
  draft,
}: {
  isLoading: boolean;
  disabled?: boolean;
  onSend: (text: string) => void;
  onStop: () => void;
  /** Put this text back in the box (a message the server refused); a new object each time. */
  draft?: { text: string } | null;
}) {
  const [text, setText] = useState("");
  const id = useId();

  // Esc stops the reply wherever the focus is (a dialog that handled the key
  // first, and marked it so, keeps it).
  useEffect(() => {
    if (!isLoading) return;
    const onKey = (event: globalThis.KeyboardEvent) => {
      if (event.key === "Escape" && !event.defaultPrevented) onStop();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [isLoading, onStop]);

  // A new draft replaces the text in the same render that shows why (React's
  // "adjust state while rendering" pattern): an effect would commit the
  // refusal's banner one frame before the text came back.
  const [shownDraft, setShownDraft] = useState(draft);
  if (draft !== shownDraft) {
    setShownDraft(draft);
    if (draft) setText(draft.text);
  }

  function submit() {
    const trimmed = text.trim();
    if (!trimmed || isLoading || disabled) return;
    onSend(trimmed);
    setText("");
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    submit();
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    // isComposing: Enter that confirms an IME composition must not send.
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  }

  return (
    <form className="composer" onSubmit={onSubmit}>
      <label htmlFor={id} className="visually-hidden">
        Message
      </label>
      <textarea
        id={id}
        value={text}
        rows={2}
        placeholder="Send a message…"
        aria-describedby={`${id}-hint`}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        disabled={disabled}
      />
      <span id={`${id}-hint`} className="visually-hidden">
        Enter sends, Shift+Enter adds a new line, Escape stops the reply.
      </span>
      {isLoading ? (
        <button type="button" className="stop" onClick={onStop}>
          Stop
        </button>
      ) : (
        <button type="submit" className="primary" disabled={disabled || !text.trim()}>
          Send
        </button>
      )}
    </form>
  );
}
