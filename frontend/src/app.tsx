import { createBrowserRouter, Navigate, RouterProvider } from "react-router";
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
