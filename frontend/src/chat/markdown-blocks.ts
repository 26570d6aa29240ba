/**
 * Split markdown into its top-level blocks, incrementally, so a streaming
 * reply re-parses only its last block.
 *
 * The split uses the same parser as the renderer (remark-parse + GFM), so the
 * blocks are exactly the document's top-level nodes. Once a later block has
 * started, CommonMark closes the earlier ones: text appended afterwards cannot
 * change them, so they are kept and only the last block is parsed again. The
 * one exception, a reference definition that resolves a link in an earlier
 * block, is why a finished message is rendered whole (markdown.tsx).
 */
import remarkGfm from "remark-gfm";
import remarkParse from "remark-parse";
import { unified } from "unified";

const parser = unified().use(remarkParse).use(remarkGfm);

/** Where each top-level block of `text` starts (at the start of its line). */
function blockStarts(text: string): number[] {
  const starts: number[] = [];
  for (const node of parser.parse(text).children) {
    const offset = node.position?.start.offset;
    if (offset === undefined) continue;
    // From the start of the line: an indented block keeps its indentation.
    const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
    if (starts.length === 0 || lineStart > (starts[starts.length - 1] as number)) {
      starts.push(lineStart);
    }
  }
  return starts;
}

export interface BlockSplit {
  /** The text the split is for. */
  text: string;
  /** Closed blocks: the text of each, in order. */
  closed: string[];
  /** Where the last (still open) block starts. */
  openStart: number;
}

const EMPTY: BlockSplit = { text: "", closed: [], openStart: 0 };

/**
 * The blocks of `text`, reusing `previous` when `text` extends it (streaming):
 * only the part from the open block on is parsed. Any other change starts over.
 */
export function splitBlocks(text: string, previous: BlockSplit = EMPTY): BlockSplit {
  const base = text.startsWith(previous.text) ? previous : EMPTY;
  const tail = text.slice(base.openStart);
  const starts = blockStarts(tail);
  if (starts.length <= 1) return { text, closed: base.closed, openStart: base.openStart };
  const closed = base.closed.slice();
  // The first block of the tail starts at its offset 0 (leading blank lines included).
  for (let i = 0; i < starts.length - 1; i += 1) {
    closed.push(tail.slice(i === 0 ? 0 : (starts[i] as number), starts[i + 1]));
  }
  return { text, closed, openStart: base.openStart + (starts[starts.length - 1] as number) };
}

/** Every block's text: the closed ones, then the open one. */
export function blocksOf(split: BlockSplit): string[] {
  return [...split.closed, split.text.slice(split.openStart)];
}
