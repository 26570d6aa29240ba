/**
 * Safe markdown for model output: no raw HTML (react-markdown without
 * rehype-raw, and `skipHtml` drops it entirely), its default URL filter
 * removes `javascript:` and similar links, and links open in a new tab without
 * access to this window.
 *
 * While a reply streams, the text is rendered block by block
 * (markdown-blocks.ts): closed blocks are memoised, so each update parses and
 * renders only the last block and the cost per token does not grow with the
 * reply. A finished message is rendered whole, once.
 */
import { type ComponentProps, memo, useMemo, useRef } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";
import { CodeBlock } from "./code-block";
import { type BlockSplit, blocksOf, splitBlocks } from "./markdown-blocks";

interface HastNode {
  type: string;
  tagName?: string;
  value?: string;
  properties?: { className?: unknown };
  children?: HastNode[];
}

function textOf(node: HastNode): string {
  if (node.type === "text") return node.value ?? "";
  return (node.children ?? []).map(textOf).join("");
}

/** The fenced block's language, from react-markdown's `language-xxx` class. */
function languageOf(code: HastNode): string | undefined {
  const classes = code.properties?.className;
  const list = Array.isArray(classes) ? classes.map(String) : [];
  const found = list.find((name) => name.startsWith("language-"));
  return found ? found.slice("language-".length) : undefined;
}

function componentsFor(highlight: boolean): Components {
  return {
    a: ({ node: _node, children, ...props }: ComponentProps<"a"> & { node?: unknown }) => (
      <a {...props} target="_blank" rel="noopener noreferrer">
        {children}
      </a>
    ),
    pre: ({ node }: ComponentProps<"pre"> & { node?: unknown }) => {
      const code = ((node as HastNode | undefined)?.children ?? []).find(
        (child) => child.type === "element" && child.tagName === "code",
      );
      const text = code ? textOf(code) : "";
      return (
        <CodeBlock
          code={text.endsWith("\n") ? text.slice(0, -1) : text}
          language={code ? languageOf(code) : undefined}
          highlight={highlight}
        />
      );
    },
  };
}

const highlighted = componentsFor(true);
const plain = componentsFor(false);
const plugins = [remarkGfm];

/** One block (or a whole message); memoised on its text. */
const MarkdownBlock = memo(function MarkdownBlock({
  text,
  highlight,
}: {
  text: string;
  highlight: boolean;
}) {
  return (
    <ReactMarkdown remarkPlugins={plugins} components={highlight ? highlighted : plain} skipHtml>
      {text}
    </ReactMarkdown>
  );
});

export function Markdown({ text, streaming = false }: { text: string; streaming?: boolean }) {
  // The split of the previous render, extended as tokens arrive.
  const splitRef = useRef<BlockSplit | undefined>(undefined);
  const blocks = useMemo(() => {
    if (!streaming) {
      splitRef.current = undefined;
      return null;
    }
    splitRef.current = splitBlocks(text, splitRef.current);
    return blocksOf(splitRef.current);
  }, [text, streaming]);

  return (
    <div className="markdown">
      {blocks === null ? (
        <MarkdownBlock text={text} highlight />
      ) : (
        blocks.map((block, index) => (
          <MarkdownBlock
            // Blocks only ever get appended: the index is their identity.
            // biome-ignore lint/suspicious/noArrayIndexKey: see above
            key={index}
            text={block}
            highlight={index < blocks.length - 1}
          />
        ))
      )}
    </div>
  );
}
