import { render, screen } from "@testing-library/react";
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
});
