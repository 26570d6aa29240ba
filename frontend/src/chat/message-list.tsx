import { type ContentPart, type Message, useAutoScroll } from "../stream-chat";
import { MessageItem } from "./message-item";

/**
 * The conversation, kept scrolled to the newest text while the user is at the
 * bottom. Scrolling up pauses that and offers "Jump to latest".
 */
export function MessageList({
  messages,
  isLoading,
}: {
  messages: Message<ContentPart>[];
  isLoading: boolean;
}) {
  const { ref, scrollToBottom, isAtBottom } = useAutoScroll<HTMLDivElement>([messages], {
    threshold: 48,
  });

  const last = messages[messages.length - 1];
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
          <p className="empty-chat">Ask anything to start a conversation.</p>
        )}
        {messages.map((message) => (
          <MessageItem
            key={message.id}
            message={message}
            streaming={isLoading && message === last && message.role === "assistant"}
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
