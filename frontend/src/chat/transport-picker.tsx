import { useId } from "react";
import { type ChatTransportChoice, TRANSPORT_CHOICES } from "./transport-setting";

/** The transport setting: how replies travel (applies to the next message). */
export function TransportPicker({
  value,
  onChange,
}: {
  value: ChatTransportChoice;
  onChange: (choice: ChatTransportChoice) => void;
}) {
  const id = useId();
  return (
    <div className="transport-picker">
      <label htmlFor={id}>Transport</label>
      <select
        id={id}
        value={value}
        title="How replies travel. Background and WebSocket replies survive a page reload."
        onChange={(event) => onChange(event.target.value as ChatTransportChoice)}
      >
        {TRANSPORT_CHOICES.map((choice) => (
          <option key={choice.value} value={choice.value}>
            {choice.label}
          </option>
        ))}
      </select>
    </div>
  );
}
