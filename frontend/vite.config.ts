import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// Django serves the built SPA on the same origin (index.html at "/", assets at
// "/assets/..."), so the refresh cookie can stay SameSite=Strict and no CORS is
// needed. In development Vite proxies the backend paths to Django instead.
const backend = "http://127.0.0.1:8000";

export default defineConfig({
  base: "/",
  plugins: [react()],
  server: {
    proxy: {
      "/api": { target: backend },
      "/admin": { target: backend },
      "/static": { target: backend },
      "/ws": { target: backend, ws: true },
    },
  },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    sourcemap: false,
    // Every asset is a hashed file under /assets/ (no data: URLs), which a
    // strict Content-Security-Policy and long-lived caching both want.
    assetsInlineLimit: 0,
    rolldownOptions: {
      output: {
        // Vendor code changes less often than ours: separate, long-cached chunks.
        codeSplitting: {
          groups: [
            {
              name: "react",
              test: /node_modules[\\/](react|react-dom|react-router|scheduler)[\\/]/,
            },
            // Not the syntax highlighter: chat/code-block.tsx imports it lazily,
            // so it stays in its own chunk, out of the first page load.
            { name: "vendor", test: /node_modules[\\/](?!lowlight[\\/]|highlight\.js[\\/])/ },
          ],
        },
      },
    },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test-setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
});
