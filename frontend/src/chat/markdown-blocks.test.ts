import { describe, expect, it } from "vitest";
import { blocksOf, splitBlocks } from "./markdown-blocks";

describe("splitBlocks", () => {
  it("splits at top-level blocks and keeps every character", () => {
    const text =
      "# Title\n\nA paragraph\nover two lines.\n\n- one\n\n- two\n\n```js\na\n\nb\n```\nAfter.";
    const blocks = blocksOf(splitBlocks(text));
    expect(blocks.join("")).toBe(text);
    expect(blocks).toEqual([
      "# Title\n\n",
      "A paragraph\nover two lines.\n\n",
      "- one\n\n- two\n\n",
      "```js\na\n\nb\n```\n",
      "After.",
    ]);
  });

  it("streaming: the same blocks as a split from scratch, token by token", () => {
    const text =
      "Intro line.\n\n1. first\n2. second\n\n    indented code\n\n> quote\n> more\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\nEnd **bold**.";
    let split = splitBlocks("");
    for (const token of text.match(/\s*\S+\s*/g) ?? []) {
      split = splitBlocks(split.text + token, split);
      expect(blocksOf(split)).toEqual(blocksOf(splitBlocks(split.text)));
    }
    expect(split.text).toBe(text);
  });

  it("parses only from the open block on once earlier blocks are closed", () => {
    const first = splitBlocks("one\n\ntwo");
    expect(first.closed).toEqual(["one\n\n"]);
    const next = splitBlocks("one\n\ntwo more", first);
    expect(next.closed).toBe(first.closed);
    expect(blocksOf(next)).toEqual(["one\n\n", "two more"]);
  });

  it("starts over when the text is not an extension of the previous one", () => {
    const first = splitBlocks("one\n\ntwo");
    expect(blocksOf(splitBlocks("other\n\ntext", first))).toEqual(["other\n\n", "text"]);
  });
});
