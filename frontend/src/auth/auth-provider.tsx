/**
 * React face of the AuthSession: `useAuth()` gives the user, the in-memory
 * access token, the actions, and the API client bound to this session.
 */
import {
  createContext,
  type ReactNode,
  useContext,
  useEffect,
  useMemo,
  useState,
  useSyncExternalStore,
} from "react";
import { type ApiClient, createApiClient } from "../api/client";
import { AuthSession, type SessionState, type User } from "./session";

export interface AuthContextValue {
  user: User | null;
  token: string | null;
  status: SessionState["status"];
  /** Why the last session ended (shown on the login page), or null. */
  reason: string | null;
  login: (username: string, password: string) => Promise<User>;
  register: (input: { username: string; password: string; email?: string }) => Promise<User>;
  logout: () => Promise<void>;
  /** Get a fresh access token (single flight); rejects and logs out when refused. */
  refreshToken: () => Promise<string>;
  /** The JSON client for every non-stream API call. */
  api: ApiClient;
  session: AuthSession;
}

const AuthContext = createContext<AuthContextValue | null>(null);

export function AuthProvider({
  children,
  session: given,
}: {
  children: ReactNode;
  /** Injectable for tests; one per provider otherwise. */
  session?: AuthSession;
}) {
  const [session] = useState(() => given ?? new AuthSession());
  const state = useSyncExternalStore(
    (listener) => session.subscribe(listener),
    () => session.getState(),
  );

  useEffect(() => {
    void session.restore();
  }, [session]);

  // The client reads the token from the session at each request, so one
  // instance per session is enough (and effects can depend on it safely).
  const api = useMemo(() => createApiClient(session), [session]);

  const value = useMemo<AuthContextValue>(
    () => ({
      user: state.user,
      token: state.token,
      status: state.status,
      reason: state.reason,
      login: (username, password) => session.login(username, password),
      register: (input) => session.register(input),
      logout: () => session.logout(),
      refreshToken: () => session.refresh(),
      api,
      session,
    }),
    [api, session, state],
  );

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth must be used inside <AuthProvider>");
  return value;
}
