import { useCallback, useLayoutEffect, useRef, useState } from "react";
import type { ContentPart, Message } from "../stream-chat";
import { MessageItem } from "./message-item";

/** Within this many pixels of the bottom counts as "at the bottom". */
const STICK_THRESHOLD = 48;

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
  const scrollerRef = useRef<HTMLDivElement>(null);
  // Whether to follow new content; a ref so scroll events do not re-render.
  const stickRef = useRef(true);
  const [showJump, setShowJump] = useState(false);

  const onScroll = useCallback(() => {
    const el = scrollerRef.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight <= STICK_THRESHOLD;
    stickRef.current = atBottom;
    setShowJump(!atBottom);
  }, []);

  const jumpToLatest = useCallback(() => {
    const el = scrollerRef.current;
    if (!el) return;
    stickRef.current = true;
    setShowJump(false);
    el.scrollTop = el.scrollHeight;
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on every content change on purpose
  useLayoutEffect(() => {
    const el = scrollerRef.current;
    if (el && stickRef.current) el.scrollTop = el.scrollHeight;
  }, [messages]);

  const last = messages[messages.length - 1];
  return (
    <div className="message-list-wrap">
      <div
        ref={scrollerRef}
        className="message-list"
        role="log"
        aria-label="Messages"
        aria-busy={isLoading}
        onScroll={onScroll}
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
      {showJump && (
        <button type="button" className="jump-latest" onClick={jumpToLatest}>
          Jump to latest ↓
        </button>
      )}
    </div>
  );
}
