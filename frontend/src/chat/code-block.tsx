/**
 * A fenced code block: the language, a Copy button, and syntax highlighting
 * once the highlighter (a lazily loaded chunk) is there. Until then, and for
 * the block still streaming in, the code shows as plain text.
 */
import { type ReactNode, useEffect, useState } from "react";
import { CopyButton } from "./copy-button";

type Highlighter = typeof import("./highlight").highlight;

// One load for the whole page, shared by every code block.
let loading: Promise<Highlighter> | null = null;
let loaded: Highlighter | null = null;

function loadHighlighter(): Promise<Highlighter> {
  loading ??= import("./highlight").then((module) => {
    loaded = module.highlight;
    return module.highlight;
  });
  return loading;
}

export function CodeBlock({
  code,
  language,
  highlight = true,
}: {
  code: string;
  language: string | undefined;
  /** False while this block is still streaming in (it is highlighted once complete). */
  highlight?: boolean;
}) {
  const [highlighter, setHighlighter] = useState<Highlighter | null>(() => loaded);
  useEffect(() => {
    if (!highlight || !language || highlighter) return;
    let active = true;
    loadHighlighter().then(
      (fn) => {
        if (active) setHighlighter(() => fn);
      },
      () => {
        // The chunk failed to load (offline): plain code is fine.
      },
    );
    return () => {
      active = false;
    };
  }, [highlight, language, highlighter]);

  let content: ReactNode = code;
  if (highlight && highlighter) content = highlighter(code, language) ?? code;

  return (
    <div className="code-block">
      <div className="code-block-bar">
        <span className="code-language">{language ?? "text"}</span>
        <CopyButton text={code} label="Copy code" />
      </div>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: scrollable code must be reachable by keyboard */}
      <pre tabIndex={0}>
        <code className={`hljs${language ? ` language-${language}` : ""}`}>{content}</code>
      </pre>
    </div>
  );
}
