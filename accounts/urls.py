from django.urls import path

from accounts import apis

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
    path("keys", apis.ApiKeyListCreateApi.as_view(), name="api-key-list"),
    path("keys/<int:key_id>", apis.ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
]
