import { useTheme } from "./theme";

/** The header's dark-mode switch (pressed = dark); the choice is remembered. */
export function ThemeToggle() {
  const [theme, setTheme] = useTheme();
  const dark = theme === "dark";
  return (
    <button
      type="button"
      className="theme-toggle"
      aria-pressed={dark}
      onClick={() => setTheme(dark ? "light" : "dark")}
    >
      Dark mode
    </button>
  );
}
