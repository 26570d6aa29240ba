import { NavLink, Outlet, useNavigate } from "react-router";
import { useAuth } from "../auth/auth-provider";
import { useAppConfig } from "../config/use-app-config";
import { ThemeToggle } from "../theme/theme-toggle";

/** Header (app name, model in use, navigation, account) above every signed-in page. */
export function AppLayout() {
  const { user, logout } = useAuth();
  const config = useAppConfig();
  const navigate = useNavigate();

  async function onLogout() {
    await logout();
    navigate("/login", { replace: true });
  }

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <span className="app-title">Secure Chat</span>
        <ModelBadge config={config} />
        <nav aria-label="Main" className="app-nav">
          <NavLink to="/" end>
            Chat
          </NavLink>
          <NavLink to="/keys">API keys</NavLink>
          <NavLink to="/settings">Settings</NavLink>
          <NavLink to="/account">Account</NavLink>
        </nav>
        <div className="app-account">
          <ThemeToggle />
          {user && <span className="app-user">{user.username}</span>}
          <button type="button" onClick={onLogout}>
            Log out
          </button>
        </div>
      </header>
      <Outlet />
    </div>
  );
}

function ModelBadge({ config }: { config: ReturnType<typeof useAppConfig> }) {
  if (!config) return null;
  const { model } = config;
  return (
    <span
      className={`model-badge${model.offline_demo ? " offline" : ""}`}
      data-testid="model-badge"
      title={
        model.offline_demo
          ? "No API key configured: replies come from a local demo model"
          : model.name
      }
    >
      {model.offline_demo ? "Offline demo model" : `Model: ${model.name}`}
    </span>
  );
}
