/** Public app settings from `GET /api/config` (no auth), fetched once per page. */
import { useEffect, useState } from "react";

export interface AppConfig {
  signup_enabled: boolean;
  model: { name: string; offline_demo: boolean };
}

let cached: Promise<AppConfig | null> | null = null;

export function loadAppConfig(): Promise<AppConfig | null> {
  if (!cached) {
    cached = fetch("/api/config", { headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? (response.json() as Promise<AppConfig>) : null))
      .catch(() => null)
      .then((config) => {
        // Do not cache a failure: the next page load of the hook tries again.
        if (!config) cached = null;
        return config;
      });
  }
  return cached;
}

export function useAppConfig(): AppConfig | null {
  const [config, setConfig] = useState<AppConfig | null>(null);
  useEffect(() => {
    let live = true;
    void loadAppConfig().then((value) => {
      if (live) setConfig(value);
    });
    return () => {
      live = false;
    };
  }, []);
  return config;
}
