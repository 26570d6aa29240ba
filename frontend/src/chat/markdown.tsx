/**
 * Safe markdown for model output: no raw HTML (react-markdown without
 * rehype-raw, and `skipHtml` drops it entirely), its default URL filter
 * removes `javascript:` and similar links, and links open in a new tab without
 * access to this window.
 */
import type { ComponentProps } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";

const components: Components = {
  a: ({ node: _node, children, ...props }: ComponentProps<"a"> & { node?: unknown }) => (
    <a {...props} target="_blank" rel="noopener noreferrer">
      {children}
    </a>
  ),
  pre: ({ node: _node, children, ...props }: ComponentProps<"pre"> & { node?: unknown }) => (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: scrollable code must be reachable by keyboard
    <pre {...props} tabIndex={0}>
      {children}
    </pre>
  ),
};

export function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown remarkPlugins={[remarkGfm]} components={components} skipHtml>
        {text}
      </ReactMarkdown>
    </div>
  );
}
