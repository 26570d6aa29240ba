/**
 * Which transport the chat uses, chosen on the settings page (or with
 * `?transport=` on a chat URL) and kept in `localStorage` (per browser,
 * shared by tabs).
 */
import { useCallback, useEffect, useState } from "react";

export type ChatTransportChoice = "sse" | "background-sse" | "websocket";

export const TRANSPORT_CHOICES: { value: ChatTransportChoice; label: string }[] = [
  { value: "sse", label: "Streaming (SSE)" },
  { value: "background-sse", label: "Background (resumable)" },
  { value: "websocket", label: "WebSocket" },
];

export const TRANSPORT_STORAGE_KEY = "chat.transport";

export function isTransportChoice(value: unknown): value is ChatTransportChoice {
  return TRANSPORT_CHOICES.some((choice) => choice.value === value);
}

/** The stored choice; `sse` when none (or storage is unavailable). */
export function loadTransportChoice(): ChatTransportChoice {
  try {
    const stored = globalThis.localStorage?.getItem(TRANSPORT_STORAGE_KEY);
    return isTransportChoice(stored) ? stored : "sse";
  } catch {
    return "sse";
  }
}

export function saveTransportChoice(choice: ChatTransportChoice): void {
  try {
    globalThis.localStorage?.setItem(TRANSPORT_STORAGE_KEY, choice);
  } catch {
    // Private mode or storage full: the choice lasts for this page only.
  }
}

/** The choice and its setter; follows changes made in other tabs. */
export function useTransportChoice(): [ChatTransportChoice, (choice: ChatTransportChoice) => void] {
  const [choice, setChoice] = useState(loadTransportChoice);
  useEffect(() => {
    const onStorage = (event: StorageEvent) => {
      if (event.key === TRANSPORT_STORAGE_KEY) setChoice(loadTransportChoice());
    };
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, []);
  const update = useCallback((next: ChatTransportChoice) => {
    saveTransportChoice(next);
    setChoice(next);
  }, []);
  return [choice, update];
}
