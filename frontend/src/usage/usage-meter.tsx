import { useEffect, useState } from "react";
import { useAuth } from "../auth/auth-provider";
import { getUsage, type UsageSummary } from "./api";
import { clock } from "./limits";

const number = (value: number) => value.toLocaleString();

/**
 * Today's token use against the daily limit, beside the composer. Reloaded
 * whenever `refreshKey` changes (a turn ended or was refused). Shows nothing
 * until the numbers arrive, or if they cannot be read: it is a hint, not a gate.
 */
export function UsageMeter({ refreshKey }: { refreshKey: number }) {
  const { api } = useAuth();
  const [usage, setUsage] = useState<UsageSummary | null>(null);

  useEffect(() => {
    // refreshKey is the trigger: each change reads the numbers again.
    void refreshKey;
    const abort = new AbortController();
    getUsage(api, abort.signal).then(
      (summary) => {
        if (!abort.signal.aborted) setUsage(summary);
      },
      () => {},
    );
    return () => abort.abort();
  }, [api, refreshKey]);

  if (!usage?.tokens) return null;
  const { used, limit, resets_at } = usage.tokens;
  const resets = clock(new Date(resets_at));
  if (limit === null) {
    return (
      <p className="usage-meter" data-testid="usage-meter">
        Today: {number(used)} tokens (no daily limit)
      </p>
    );
  }
  return (
    <p className="usage-meter" data-testid="usage-meter">
      <label>
        Today: {number(used)} of {number(limit)} tokens{" "}
        <meter min={0} max={limit} value={Math.min(used, limit)} high={limit * 0.9} />
      </label>{" "}
      <span className="muted">resets at {resets}</span>
    </p>
  );
}
