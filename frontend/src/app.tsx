import { createBrowserRouter, Navigate, RouterProvider } from "react-router";
import { AccountLayout } from "./account/account-layout";
import { ForgotPasswordPage } from "./account/forgot-password-page";
import { PasswordPage } from "./account/password-page";
import { ResetPasswordPage } from "./account/reset-password-page";
import { SessionsPage } from "./account/sessions-page";
import { TwoFactorPage } from "./account/two-factor-page";
import { VerifyEmailPage } from "./account/verify-email-page";
import { AuthProvider } from "./auth/auth-provider";
import { LoginPage } from "./auth/login-page";
import { RequireAuth } from "./auth/require-auth";
import { SignupPage } from "./auth/signup-page";
import { ChatPage } from "./chat/chat-page";
import { AppLayout } from "./components/app-layout";
import { KeysPage } from "./keys/keys-page";
import { SettingsPage } from "./settings/settings-page";

const router = createBrowserRouter([
  { path: "/login", element: <LoginPage /> },
  { path: "/signup", element: <SignupPage /> },
  // Links in account emails: they work signed in or not.
  { path: "/forgot-password", element: <ForgotPasswordPage /> },
  { path: "/reset-password", element: <ResetPasswordPage /> },
  { path: "/verify-email", element: <VerifyEmailPage /> },
  {
    element: (
      <RequireAuth>
        <AppLayout />
      </RequireAuth>
    ),
    children: [
      { path: "/", element: <ChatPage /> },
      { path: "/c/:id", element: <ChatPage /> },
      { path: "/keys", element: <KeysPage /> },
      { path: "/settings", element: <SettingsPage /> },
      {
        path: "/account",
        element: <AccountLayout />,
        children: [
          { index: true, element: <Navigate to="/account/sessions" replace /> },
          { path: "sessions", element: <SessionsPage /> },
          { path: "password", element: <PasswordPage /> },
          { path: "two-factor", element: <TwoFactorPage /> },
        ],
      },
    ],
  },
  { path: "*", element: <Navigate to="/" replace /> },
]);

export function App() {
  return (
    <AuthProvider>
      <RouterProvider router={router} />
    </AuthProvider>
  );
}
