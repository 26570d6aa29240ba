"""Django REST framework (authentication, throttle rates, renderers) and the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from chatproject.settings.core import DEBUG, env

# --------------------------------------------------------------------------
# Django REST framework
# https://www.django-rest-framework.org/api-guide/settings/
# --------------------------------------------------------------------------

REST_FRAMEWORK: dict[str, Any] = {
    # JWT first: a 401 then carries its WWW-Authenticate header (see accounts/drf.py).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.drf.JWTAuthentication",
        "accounts.drf.ApiKeyAuthentication",
    ],
    # Auth limits (accounts/throttles.py). A login attempt is counted before the
    # password is checked; a successful one is taken back off.
    "DEFAULT_THROTTLE_RATES": {
        # Per (username, IP), then per IP, then a higher per-username ceiling, so a
        # guesser elsewhere cannot lock the real user out (docs/security.md).
        "login_failures_username_ip": env.rate(
            "THROTTLE_LOGIN_FAILURES_USERNAME_IP", default="5/min"
        ),
        "login_failures_ip": env.rate("THROTTLE_LOGIN_FAILURES_IP", default="20/min"),
        "login_failures_username": env.rate("THROTTLE_LOGIN_FAILURES_USERNAME", default="30/min"),
        "refresh": env.rate("THROTTLE_REFRESH", default="60/min"),
        "register": env.rate("THROTTLE_REGISTER", default="10/min"),
    },
    # Client IP for throttling is REMOTE_ADDR unless this many proxies (each adding
    # to X-Forwarded-For) sit in front; DRF's default (None) trusts a spoofable header.
    "NUM_PROXIES": env.int("DJANGO_NUM_PROXIES", default=0, min_value=0),
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "chatproject.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SPECTACULAR_SETTINGS = {
    "TITLE": "Chat starter API",
    "DESCRIPTION": "Streaming chat with JWT and API-key authentication.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed sidecar package: no CDN, CSP-friendly.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The streaming endpoints, /api/config and the probes are plain async views.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chatproject.openapi.add_plain_django_views",
    ],
}
