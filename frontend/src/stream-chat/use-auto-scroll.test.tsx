import { act, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { UseAutoScrollOptions, UseAutoScrollReturn } from "./types";
import { useAutoScroll } from "./use-auto-scroll";

/**
 * jsdom has no layout: the container reports the heights a test gives it, and
 * scrollTop is clamped to them as a browser does.
 */
function fakeLayout(element: HTMLElement, layout: { scrollHeight: number; clientHeight: number }) {
  let top = 0;
  const clamp = (value: number) =>
    Math.max(0, Math.min(value, layout.scrollHeight - layout.clientHeight));
  Object.defineProperty(element, "scrollHeight", {
    configurable: true,
    get: () => layout.scrollHeight,
  });
  Object.defineProperty(element, "clientHeight", {
    configurable: true,
    get: () => layout.clientHeight,
  });
  Object.defineProperty(element, "scrollTop", {
    configurable: true,
    get: () => top,
    set: (value: number) => {
      top = clamp(value);
    },
  });
  const scrolledWith: (ScrollBehavior | undefined)[] = [];
  element.scrollTo = ((options: ScrollToOptions) => {
    element.scrollTop = options.top ?? 0;
    scrolledWith.push(options.behavior);
  }) as typeof element.scrollTo;
  return scrolledWith;
}

type Ref = { current: UseAutoScrollReturn | null };

function Harness({
  lines,
  options,
  hook,
}: {
  lines: number;
  options?: UseAutoScrollOptions;
  hook: Ref;
}) {
  const scroll = useAutoScroll([lines], options);
  hook.current = scroll;
  return (
    <div ref={scroll.ref} data-testid="scroller">
      {Array.from({ length: lines }, (_, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: static test content
        <p key={i}>line {i}</p>
      ))}
      <span data-testid="at-bottom">{String(scroll.isAtBottom)}</span>
    </div>
  );
}

function setup(options?: UseAutoScrollOptions) {
  const hook: Ref = { current: null };
  const layout = { scrollHeight: 1000, clientHeight: 200 };
  const view = render(<Harness lines={1} options={options} hook={hook} />);
  const element = screen.getByTestId("scroller");
  const scrolledWith = fakeLayout(element, layout);
  /** More content arrives: the container grows by `px` and re-renders with a new dependency. */
  const grow = (lines: number, px = 100) => {
    layout.scrollHeight += px;
    view.rerender(<Harness lines={lines} options={options} hook={hook} />);
  };
  /** The user (or the browser) moves the view to `top` and the scroll event fires. */
  const userScroll = (top: number) => {
    element.scrollTop = top;
    fireEvent.scroll(element);
  };
  return { hook, layout, element, grow, userScroll, scrolledWith };
}

describe("useAutoScroll", () => {
  it("follows the bottom while pinned, without smooth scrolling", () => {
    const { element, grow, scrolledWith } = setup();
    grow(2);
    expect(element.scrollTop).toBe(900);
    grow(3);
    expect(element.scrollTop).toBe(1000);
    expect(scrolledWith).toEqual([]);
    expect(screen.getByTestId("at-bottom")).toHaveTextContent("true");
  });

  it("a scroll up pauses it at once; new content leaves the view where the user put it", () => {
    const { element, grow, userScroll, hook } = setup();
    grow(2);
    userScroll(400);
    expect(hook.current?.isAtBottom).toBe(false);
    grow(3);
    grow(4);
    expect(element.scrollTop).toBe(400);
  });

  it("its own jumps (and their scroll events) never unpin it", () => {
    const { element, grow, hook, layout } = setup();
    grow(2);
    fireEvent.scroll(element); // the event our own jump caused
    layout.scrollHeight += 500; // a big chunk lands before that event is handled
    fireEvent.scroll(element);
    expect(hook.current?.isAtBottom).toBe(true);
    grow(3);
    expect(element.scrollTop).toBe(1500);
  });

  it("a wheel up unpins even when nothing can scroll", () => {
    const { element, grow, hook } = setup();
    fireEvent.wheel(element, { deltaY: -40 });
    expect(hook.current?.isAtBottom).toBe(false);
    const before = element.scrollTop;
    grow(2);
    expect(element.scrollTop).toBe(before);
  });

  it("scrolling back within the threshold re-pins it", () => {
    const { element, grow, userScroll, hook } = setup({ threshold: 50 });
    grow(2);
    userScroll(300);
    expect(hook.current?.isAtBottom).toBe(false);
    userScroll(860); // 1100 - 860 - 200 = 40 px from the bottom
    expect(hook.current?.isAtBottom).toBe(true);
    grow(3);
    expect(element.scrollTop).toBe(1000);
  });

  it("scrollToBottom jumps with the given behavior and re-pins", () => {
    const { element, grow, userScroll, hook, scrolledWith } = setup({ behavior: "auto" });
    grow(2);
    userScroll(100);
    act(() => hook.current?.scrollToBottom());
    expect(hook.current?.isAtBottom).toBe(true);
    expect(scrolledWith).toEqual(["auto"]);
    expect(element.scrollTop).toBe(900);
    grow(3);
    expect(element.scrollTop).toBe(1000);
  });

  it("follows DOM changes that come without a dependency change", async () => {
    const { element, layout } = setup();
    layout.scrollHeight = 1800;
    await act(async () => {
      element.appendChild(document.createElement("p"));
      await Promise.resolve();
    });
    expect(element.scrollTop).toBe(1600);
  });

  it("does nothing when disabled", () => {
    const { element, grow } = setup({ enabled: false });
    const before = element.scrollTop;
    grow(2);
    expect(element.scrollTop).toBe(before);
  });
});
