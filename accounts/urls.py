from django.urls import path

from accounts import apis, email_apis, mfa_apis

urlpatterns = [
    path("auth/register", apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/token", apis.TokenObtainApi.as_view(), name="auth-token"),
    path("auth/token/refresh", apis.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/logout-all", apis.LogoutAllApi.as_view(), name="auth-logout-all"),
    path("auth/me", apis.MeApi.as_view(), name="auth-me"),
    path("auth/sessions", apis.SessionListApi.as_view(), name="auth-sessions"),
    path(
        "auth/sessions/<uuid:session_id>",
        apis.SessionRevokeApi.as_view(),
        name="auth-session-revoke",
    ),
    path("auth/password", apis.PasswordChangeApi.as_view(), name="auth-password"),
    # Password reset, email verification, TOTP (accounts/email_apis.py, mfa_apis.py).
    path("auth/password/reset", email_apis.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm",
        email_apis.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/email/verify", email_apis.EmailVerifyApi.as_view(), name="auth-email-verify"),
    path(
        "auth/email/verify/resend",
        email_apis.EmailVerifyResendApi.as_view(),
        name="auth-email-verify-resend",
    ),
    path("auth/mfa/totp", mfa_apis.TotpApi.as_view(), name="auth-mfa-totp"),
    path("auth/mfa/totp/confirm", mfa_apis.TotpConfirmApi.as_view(), name="auth-mfa-totp-confirm"),
    path("auth/token/mfa", mfa_apis.MfaTokenApi.as_view(), name="auth-token-mfa"),
    path("keys", apis.ApiKeyListCreateApi.as_view(), name="api-key-list"),
    path("keys/<int:key_id>", apis.ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
]
