import { NavLink, Outlet } from "react-router";
import { EmailStatus } from "./email-status";
import "./account.css";

/** The Account area: its own navigation above each page (sessions, password, two-factor). */
export function AccountLayout() {
  return (
    <main id="main" className="account-page">
      <h1>Account</h1>
      <EmailStatus />
      <nav aria-label="Account" className="account-nav">
        <NavLink to="/account/sessions">Sessions</NavLink>
        <NavLink to="/account/password">Password</NavLink>
        <NavLink to="/account/two-factor">Two-factor</NavLink>
      </nav>
      <Outlet />
    </main>
  );
}
