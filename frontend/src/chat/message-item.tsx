import type { ContentPart, Message, ToolCallPart } from "../stream-chat";
import { Markdown } from "./markdown";

function pretty(text: string | undefined): string {
  if (text === undefined) return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function ToolCard({ part, streaming }: { part: ToolCallPart; streaming: boolean }) {
  return (
    <section className="tool-card" aria-label={`Tool call: ${part.tool_name}`}>
      <header>
        <span className="tool-icon" aria-hidden="true">
          ⚙
        </span>{" "}
        <strong>{part.tool_name}</strong>
      </header>
      <h3 className="tool-label">Arguments</h3>
      <pre className="tool-args">{pretty(part.argument) || "(none)"}</pre>
      <h3 className="tool-label">Result</h3>
      {part.result !== undefined ? (
        <pre className="tool-result">{pretty(part.result)}</pre>
      ) : (
        <p className="tool-pending">{streaming ? "Running…" : "No result"}</p>
      )}
    </section>
  );
}

export function MessageItem({
  message,
  streaming,
}: {
  message: Message<ContentPart>;
  /** This is the assistant message being streamed right now. */
  streaming: boolean;
}) {
  const isUser = message.role === "user";
  const empty = message.parts.length === 0;
  return (
    <article
      className={`message ${message.role}${streaming ? " streaming" : ""}`}
      aria-label={isUser ? "Your message" : "Assistant message"}
    >
      {message.parts.map((part, index) => {
        const key = `${message.id}-${index}`;
        switch (part.type) {
          case "text":
            return isUser ? (
              <p key={key} className="user-text">
                {part.text}
              </p>
            ) : (
              <Markdown key={key} text={part.text} />
            );
          case "reasoning":
            return (
              <details key={key} className="reasoning">
                <summary>Reasoning</summary>
                <p>{part.text}</p>
              </details>
            );
          case "tool_call":
            return <ToolCard key={key} part={part} streaming={streaming} />;
          default:
            return null;
        }
      })}
      {streaming && empty && (
        <p className="typing" aria-hidden="true">
          <span />
          <span />
          <span />
        </p>
      )}
    </article>
  );
}
