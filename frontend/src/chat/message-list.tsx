import { useMemo } from "react";
import { type ContentPart, type Message, useAutoScroll } from "../stream-chat";
import { type MessageActions, MessageItem } from "./message-item";

/** What a new chat offers to ask (a click sends it). */
export const EXAMPLE_PROMPTS = [
  "Explain JSON Web Tokens in three sentences",
  "What is 17 × 23? Use the calculator",
  "Write a Python function that reverses a linked list",
];

/**
 * The conversation, kept scrolled to the newest text while the user is at the
 * bottom. Scrolling up pauses that and offers "Jump to latest".
 */
export function MessageList({
  messages,
  isLoading,
  onRegenerate,
  onEdit,
  onExample,
}: {
  messages: Message<ContentPart>[];
  isLoading: boolean;
  /** Offered on the last reply when set. */
  onRegenerate?: () => void;
  /** Offered on the last user message when set. */
  onEdit?: (text: string) => void;
  /** A new chat shows example prompts when set. */
  onExample?: (text: string) => void;
}) {
  const { ref, scrollToBottom, isAtBottom } = useAutoScroll<HTMLDivElement>([messages], {
    threshold: 48,
  });

  const last = messages[messages.length - 1];
  let lastUser = -1;
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    if (messages[i]?.role === "user") {
      lastUser = i;
      break;
    }
  }
  // Stable objects, so the memoised messages do not re-render for nothing.
  const replyActions = useMemo<MessageActions | undefined>(
    () => (onRegenerate ? { onRegenerate } : undefined),
    [onRegenerate],
  );
  const userActions = useMemo<MessageActions | undefined>(
    () => (onEdit ? { onEdit } : undefined),
    [onEdit],
  );
  return (
    <div className="message-list-wrap">
      <div
        ref={ref}
        className="message-list"
        role="log"
        aria-label="Messages"
        aria-busy={isLoading}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the scroll area must be reachable by keyboard
        tabIndex={0}
      >
        {messages.length === 0 && (
          <div className="empty-chat">
            <p>Ask anything to start a conversation.</p>
            {onExample && (
              <ul className="example-prompts" aria-label="Example prompts">
                {EXAMPLE_PROMPTS.map((prompt) => (
                  <li key={prompt}>
                    <button type="button" onClick={() => onExample(prompt)}>
                      {prompt}
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
        {messages.map((message, index) => (
          <MessageItem
            key={message.id}
            message={message}
            streaming={isLoading && message === last && message.role === "assistant"}
            actions={
              isLoading
                ? undefined
                : message === last && message.role === "assistant"
                  ? replyActions
                  : index === lastUser
                    ? userActions
                    : undefined
            }
          />
        ))}
      </div>
      {!isAtBottom && (
        <button type="button" className="jump-latest" onClick={scrollToBottom}>
          Jump to latest ↓
        </button>
      )}
    </div>
  );
}
