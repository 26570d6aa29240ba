/**
 * Syntax highlighting (lowlight, i.e. highlight.js grammars, as a hast tree
 * rendered by React: no HTML strings, so nothing is injected). Loaded only
 * when a message holds fenced code: code-block.tsx imports this module
 * lazily, keeping it out of the first page load.
 */
import type { Nodes } from "hast";
import { toJsxRuntime } from "hast-util-to-jsx-runtime";
import { common, createLowlight } from "lowlight";
import type { ReactNode } from "react";
import { Fragment, jsx, jsxs } from "react/jsx-runtime";

const lowlight = createLowlight(common);

/** `code` highlighted as `language` (when lowlight knows it), as React nodes; null otherwise. */
export function highlight(code: string, language: string | undefined): ReactNode | null {
  if (!language || !lowlight.registered(language)) return null;
  const tree = lowlight.highlight(language, code);
  return toJsxRuntime(tree as Nodes, { Fragment, jsx, jsxs });
}
