/**
 * `useAutoScroll`: keep a scroll container pinned to the bottom while content
 * streams in, as `@deltakit/react` 0.2.8 does.
 *
 * The rule that keeps it simple: the view is *pinned* or not. While pinned,
 * any growth (the `dependencies`, a resize, a DOM change) jumps to the bottom,
 * instantly. Only the user unpins it: a scroll that moves up, or a wheel up.
 * Our own jumps only ever move down (or land at the bottom), so the scroll
 * events they cause can never be mistaken for the user's. Scrolling back
 * within `threshold` of the bottom pins it again.
 */
import {
  type DependencyList,
  useCallback,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
} from "react";
import type { UseAutoScrollOptions, UseAutoScrollReturn } from "./types";

function distanceFromBottom(element: HTMLElement): number {
  return element.scrollHeight - element.scrollTop - element.clientHeight;
}

export function useAutoScroll<T extends HTMLElement = HTMLDivElement>(
  dependencies: DependencyList,
  options: UseAutoScrollOptions = {},
): UseAutoScrollReturn<T> {
  const { behavior = "smooth", enabled = true, threshold = 50 } = options;
  const ref = useRef<T | null>(null);
  // Pinned or not; a ref so that following the stream never waits for a render.
  const pinnedRef = useRef(true);
  // The last scrollTop seen, to tell an upward scroll from a downward one.
  const lastTopRef = useRef(0);
  const [isAtBottom, setIsAtBottom] = useState(true);
  // Latest options for the listeners, which are attached once per element.
  const settingsRef = useRef({ enabled, threshold });
  useLayoutEffect(() => {
    settingsRef.current = { enabled, threshold };
  });

  const setPinned = useCallback((pinned: boolean) => {
    pinnedRef.current = pinned;
    setIsAtBottom(pinned);
  }, []);

  const follow = useCallback(() => {
    const element = ref.current;
    if (!element || !pinnedRef.current || !settingsRef.current.enabled) return;
    if (distanceFromBottom(element) <= 0) return;
    element.scrollTop = element.scrollHeight;
    lastTopRef.current = element.scrollTop;
  }, []);

  const scrollToBottom = useCallback(() => {
    const element = ref.current;
    setPinned(true);
    if (!element) return;
    element.scrollTo({ top: element.scrollHeight, behavior });
  }, [behavior, setPinned]);

  // Listeners and observers on the container (attached at mount).
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    lastTopRef.current = element.scrollTop;
    const onScroll = () => {
      const top = element.scrollTop;
      const movedUp = top < lastTopRef.current;
      lastTopRef.current = top;
      if (distanceFromBottom(element) <= settingsRef.current.threshold) {
        if (!pinnedRef.current) setPinned(true);
      } else if (movedUp && pinnedRef.current) {
        setPinned(false);
      }
    };
    // A wheel up pauses at once, before (or without) any scroll event: at the
    // top of a short list nothing scrolls, but the intent is clear.
    const onWheel = (event: WheelEvent) => {
      if (event.deltaY < 0 && pinnedRef.current) setPinned(false);
    };
    element.addEventListener("scroll", onScroll, { passive: true });
    element.addEventListener("wheel", onWheel, { passive: true });
    const resizes =
      typeof ResizeObserver === "function" ? new ResizeObserver(() => follow()) : null;
    resizes?.observe(element);
    const mutations =
      typeof MutationObserver === "function" ? new MutationObserver(() => follow()) : null;
    mutations?.observe(element, { childList: true, subtree: true, characterData: true });
    return () => {
      element.removeEventListener("scroll", onScroll);
      element.removeEventListener("wheel", onWheel);
      resizes?.disconnect();
      mutations?.disconnect();
    };
  }, [follow, setPinned]);

  // Pinned at first render, and after every change of `dependencies`.
  useLayoutEffect(
    () => follow(),
    // biome-ignore lint/correctness/useExhaustiveDependencies: the caller's dependencies, on purpose
    dependencies,
  );

  return { ref, scrollToBottom, isAtBottom };
}
