import { render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Markdown } from "./markdown";

describe("Markdown", () => {
  it("renders formatting and code blocks", () => {
    const { container } = render(
      <Markdown text={"**bold** and `x`\n\n```js\nconst a = 1;\n```"} />,
    );
    expect(container.querySelector("strong")).toHaveTextContent("bold");
    expect(container.querySelector("pre code")).toHaveTextContent("const a = 1;");
  });

  it("never renders raw HTML", () => {
    const { container } = render(
      <Markdown text={'hi <img src=x onerror="alert(1)"> <script>alert(2)</script> <b>raw</b>'} />,
    );
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("script")).toBeNull();
    expect(container.querySelector("b")).toBeNull();
  });

  it("opens links in a new tab without opener and drops javascript: URLs", () => {
    render(<Markdown text={"[docs](https://example.com) [bad](javascript:alert(1))"} />);
    const docs = screen.getByRole("link", { name: "docs" });
    expect(docs).toHaveAttribute("href", "https://example.com");
    expect(docs).toHaveAttribute("target", "_blank");
    expect(docs).toHaveAttribute("rel", "noopener noreferrer");
    const bad = screen.getByText("bad").closest("a");
    expect(bad?.getAttribute("href") ?? "").not.toMatch(/javascript/i);
  });

  it("while streaming, renders the same HTML block by block as it does whole", () => {
    const text =
      "# Plan\n\nFirst **bold** [link](https://example.com).\n\n- a\n- b\n\n| x | y |\n| - | - |\n| 1 | 2 |\n\nLast line";
    // The newlines react-markdown puts between blocks are the only difference.
    const html = (element: HTMLElement) => element.innerHTML.replace(/>\s+</g, "><");
    const whole = html(render(<Markdown text={text} />).container);
    const streamed = html(render(<Markdown text={text} streaming />).container);
    expect(streamed).toBe(whole);
  });

  it("streaming never renders raw HTML or javascript: links either", () => {
    const { container } = render(
      <Markdown
        text={"one\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=y>"}
        streaming
      />,
    );
    expect(container.querySelector("script, img")).toBeNull();
    expect(container.querySelector("a")?.getAttribute("href") ?? "").not.toMatch(/javascript/i);
  });

  it("highlights fenced code once the highlighter has loaded, and offers Copy code", async () => {
    const { container } = render(<Markdown text={"```js\nconst a = 1;\n```"} />);
    expect(screen.getByRole("button", { name: "Copy code" })).toBeInTheDocument();
    expect(container.querySelector(".code-language")).toHaveTextContent("js");
    await waitFor(() =>
      expect(container.querySelector(".hljs-keyword")).toHaveTextContent("const"),
    );
    expect(container.querySelector("pre code")).toHaveTextContent("const a = 1;");
  });

  it("does not highlight the code block still streaming in", () => {
    const { container } = render(<Markdown text={"Intro\n\n```js\nconst a"} streaming />);
    expect(container.querySelector("pre code")).toHaveTextContent("const a");
    expect(container.querySelector(".hljs-keyword")).toBeNull();
  });
});
