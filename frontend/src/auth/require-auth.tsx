import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useAuth } from "./auth-provider";

/** Protected routes: wait for the silent refresh, then render or go to /login. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const { status, reason } = useAuth();
  const location = useLocation();
  if (status === "loading") {
    return (
      <p className="page-status" role="status">
        Loading…
      </p>
    );
  }
  if (status !== "authenticated") {
    const from = location.pathname + location.search;
    return <Navigate to="/login" replace state={{ from, reason }} />;
  }
  return <>{children}</>;
}
