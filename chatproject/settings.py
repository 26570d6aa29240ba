"""Settings for the chat starter, read from the environment.

Every variable goes through ``chatproject.env.Env``; the README's configuration
table lists them. The defaults are the embedded setup (SQLite file, in-memory
channel layer, local-memory cache, offline demo model); ``DATABASE_URL`` and
``REDIS_URL`` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from pathlib import Path
from typing import Any

from chatproject.env import Env, EnvError

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------
# Core
# https://docs.djangoproject.com/en/5.2/ref/settings/
# --------------------------------------------------------------------------

DEBUG = env.bool("DJANGO_DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-dev-only-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("DJANGO_SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else None)
if SECRET_KEY is None:
    raise EnvError(
        "DJANGO_SECRET_KEY",
        "a long random value when DJANGO_DEBUG is off "
        '(python -c "import secrets; print(secrets.token_urlsafe(50))")',
    )

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

# --------------------------------------------------------------------------
# The dev key stays on loopback
# --------------------------------------------------------------------------
# The dev key is in the repository, so anything it signs (JWTs, admin sessions,
# the API-key pepper) can be forged by anyone who has read it. DEBUG may use it
# only while the server answers nothing but loopback names.
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]"}
if SECRET_KEY == _DEV_SECRET_KEY and not set(ALLOWED_HOSTS) <= _LOOPBACK_HOSTS:
    raise EnvError(
        "DJANGO_SECRET_KEY",
        "a key of its own when DJANGO_ALLOWED_HOSTS names more than localhost, "
        "127.0.0.1 and [::1] (DJANGO_DEBUG=1 would sign tokens with the key "
        "committed to the repository)",
    )
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Daphne first: it replaces runserver with an ASGI server.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "accounts",
    "chat",
    "usage",
]

MIDDLEWARE = [
    "chatproject.middleware.RequestContextMiddleware",
    # Django's Security/Common/XFrameOptions hooks inline for every request, and
    # Session/CSRF/Auth/Messages for /admin/ only: see its docstring for why.
    "chatproject.middleware.SiteMiddleware",
]
# Those checks look for Django's middleware classes by name in MIDDLEWARE;
# SiteMiddleware applies them (tests/test_middleware.py proves it on real
# requests): admin.E408-E410 (auth, messages, session), security.W001
# (SecurityMiddleware, whose own deploy checks are re-run by the same tests),
# security.W002 (X-Frame-Options) and security.W003 (CSRF).
SILENCED_SYSTEM_CHECKS = [
    "admin.E408",
    "admin.E409",
    "admin.E410",
    "security.W001",
    "security.W002",
    "security.W003",
]

ROOT_URLCONF = "chatproject.urls"
ASGI_APPLICATION = "chatproject.asgi.application"
WSGI_APPLICATION = None

# API paths have no trailing slash; APPEND_SLASH would turn a POST to
# "/api/chat/" into a 500 under DEBUG. Admin gets an explicit redirect instead.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --------------------------------------------------------------------------
# Database: SQLite file by default, PostgreSQL through DATABASE_URL
# https://docs.djangoproject.com/en/5.2/ref/databases/
# --------------------------------------------------------------------------

_default_db = env.database("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
if _default_db["ENGINE"] == "django.db.backends.sqlite3":
    _default_db["OPTIONS"] = {
        # WAL lets the async views read while a turn is being written;
        # IMMEDIATE avoids "database is locked" on read-to-write upgrades.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests share the database with a live server process, so it is a file.
    _default_db["TEST"] = {"NAME": str(Path(_default_db["NAME"]).with_suffix(".test.sqlite3"))}
else:
    # Sync views (DRF, admin): a connection per request, closed at its end. Not a
    # pool (psycopg_pool): background runs and streams touch the database from
    # worker threads that outlive requests, and a pool whose connections are not
    # all handed back stalls every request once it is drained (seen under
    # schemathesis, 2026-11). The async views (auth lookup, turn writes) use
    # chatproject.db's DB_THREADS threads instead, whose connections persist.
    _default_db["CONN_MAX_AGE"] = 0
    _default_db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _default_db}
# Worker threads (each with one persistent connection) for the async views'
# database work: authentication lookups and chat turn writes (chatproject/db.py).
DB_THREADS = env.int("DB_THREADS", default=4, min_value=1)

# The garbage collector, tuned when the ASGI application loads (chatproject/asgi.py):
# startup objects frozen out of every collection, and this many allocations
# between young collections (Python's default is 700). docs/performance.md.
GC_GEN0_THRESHOLD = env.int("GC_GEN0_THRESHOLD", default=20_000, min_value=700)

# --------------------------------------------------------------------------
# Redis (optional): cache, throttles, background runs' events
# https://docs.djangoproject.com/en/5.2/topics/cache/#redis
# --------------------------------------------------------------------------

REDIS_URL = env.redis_url("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "chat",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --------------------------------------------------------------------------
# Static files and the built frontend
# https://whitenoise.readthedocs.io/
# --------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
# Static files and the SPA's assets ("/assets/...") are served by WhiteNoise's
# index at the ASGI layer (chatproject/static_files.py), not by its middleware.
WHITENOISE_ROOT = FRONTEND_DIST if FRONTEND_DIST.is_dir() else None
# No "Access-Control-Allow-Origin: *" (WhiteNoise's default): the SPA loads its
# files from its own origin. A CDN on another origin needs its own CORS header.
WHITENOISE_ALLOW_ALL_ORIGINS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --------------------------------------------------------------------------
# Django REST framework
# https://www.django-rest-framework.org/api-guide/settings/
# --------------------------------------------------------------------------

REST_FRAMEWORK: dict[str, Any] = {
    # JWT first: a 401 then carries its WWW-Authenticate header (see accounts/authentication.py).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "accounts.authentication.ApiKeyAuthentication",
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

# --------------------------------------------------------------------------
# Authentication: SimpleJWT, refresh cookie, API keys
# https://django-rest-framework-simplejwt.readthedocs.io/en/latest/settings.html
# --------------------------------------------------------------------------

JWT_ACCESS_SECONDS = env.int("JWT_ACCESS_SECONDS", default=300, min_value=1)
JWT_REFRESH_DAYS = env.int("JWT_REFRESH_DAYS", default=7, min_value=1)
JWT_LEEWAY_SECONDS = env.int("JWT_LEEWAY_SECONDS", default=10, min_value=0)
if JWT_LEEWAY_SECONDS > 30:
    raise EnvError("JWT_LEEWAY_SECONDS", "an integer from 0 to 30")
JWT_ALGORITHM = env.choice(
    "JWT_ALGORITHM", default="HS256", choices=("HS256", "HS384", "HS512", "RS256", "ES256")
)
# Tokens are signed with JWT_SIGNING_KEY (default: the secret key). To rotate it
# without logging everyone out, move the old value to JWT_SIGNING_KEY_FALLBACKS
# (comma list, verify only) for one refresh lifetime. docs/security.md.
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY") or SECRET_KEY
JWT_SIGNING_KEY_FALLBACKS = env.list("JWT_SIGNING_KEY_FALLBACKS", default=[])
JWT_VERIFYING_KEY = env.str("JWT_VERIFYING_KEY")
if not JWT_ALGORITHM.startswith("HS") and not (env.is_set("JWT_SIGNING_KEY") and JWT_VERIFYING_KEY):
    raise EnvError(
        "JWT_VERIFYING_KEY", f"a PEM public key, with a PEM JWT_SIGNING_KEY, for {JWT_ALGORITHM}"
    )
SIMPLE_JWT: dict[str, Any] = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=JWT_ACCESS_SECONDS),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=JWT_REFRESH_DAYS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": JWT_ALGORITHM,
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "VERIFYING_KEY": JWT_VERIFYING_KEY or "",
    "ISSUER": env.str("JWT_ISSUER", default="chatproject"),
    "AUDIENCE": env.str("JWT_AUDIENCE", default="chatproject-api"),
    "LEEWAY": JWT_LEEWAY_SECONDS,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}
# The refresh token lives only in this cookie: HttpOnly, SameSite=Strict, sent only
# to the auth endpoints, Secure unless DEBUG (plain-HTTP development).
REFRESH_COOKIE_NAME = "refresh_token"
REFRESH_COOKIE_PATH = "/api/auth/"
REFRESH_COOKIE_SECURE = not DEBUG
# API keys are stored as HMAC-SHA256(pepper, key). Set API_KEY_PEPPER explicitly
# before you ever rotate DJANGO_SECRET_KEY: changing the pepper invalidates every key.
API_KEY_PEPPER = (
    env.str("API_KEY_PEPPER")
    or hmac.new(SECRET_KEY.encode(), b"chatproject.api-key-pepper", hashlib.sha256).hexdigest()
)
API_KEY_LAST_USED_INTERVAL = 60  # seconds between last_used_at writes per key
AUTH_THROTTLE_CACHE_PREFIX = "auth-throttle"
ALLOW_SIGNUP = env.bool("ALLOW_SIGNUP", default=DEBUG)

# --------------------------------------------------------------------------
# Session and API key lifetimes (docs/security.md)
# --------------------------------------------------------------------------

# A session (token family) ends this long after its login, however often it is
# refreshed: the rotated refresh token's expiry is capped at it.
JWT_SESSION_MAX_DAYS = env.int("JWT_SESSION_MAX_DAYS", default=30, min_value=1)
# API keys: lifetime when none is asked for, and the longest allowed (0 = no limit).
API_KEY_DEFAULT_DAYS = env.int("API_KEY_DEFAULT_DAYS", default=90, min_value=0)
API_KEY_MAX_DAYS = env.int("API_KEY_MAX_DAYS", default=365, min_value=0)
if API_KEY_MAX_DAYS and not 0 < API_KEY_DEFAULT_DAYS <= API_KEY_MAX_DAYS:
    raise EnvError(
        "API_KEY_DEFAULT_DAYS", f"an integer from 1 to API_KEY_MAX_DAYS ({API_KEY_MAX_DAYS})"
    )
# Live (unrevoked, unexpired) keys per user.
API_KEY_MAX_PER_USER = env.int("API_KEY_MAX_PER_USER", default=20, min_value=1)

# --------------------------------------------------------------------------
# Account recovery and two-factor: email, password reset, verification, TOTP
# https://docs.djangoproject.com/en/5.2/topics/email/
# --------------------------------------------------------------------------

# Under DEBUG emails are printed on the console unless a backend is named; in
# production Django's SMTP backend reads EMAIL_HOST etc. README "Email".
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.console.EmailBackend"
        if DEBUG
        else "django.core.mail.backends.smtp.EmailBackend"
    ),
)
if "." not in EMAIL_BACKEND:
    raise EnvError(
        "EMAIL_BACKEND", "a dotted path like django.core.mail.backends.smtp.EmailBackend"
    )
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH")
if EMAIL_BACKEND.endswith("filebased.EmailBackend") and not EMAIL_FILE_PATH:
    raise EnvError("EMAIL_FILE_PATH", "a directory for the file email backend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25, min_value=1)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise EnvError("EMAIL_USE_SSL", "off when EMAIL_USE_TLS is on (choose one)")
# Seconds before an SMTP connection gives up (Django's default waits forever).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10, min_value=1)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Secure Chat <noreply@localhost>")
# Where the links in emails point: the SPA's origin ("https://chat.example.com").
# Unset under DEBUG: the request's own origin. Unset in production: no email links
# can be made, and the endpoints that send them answer 503 email_not_configured.
FRONTEND_ORIGIN = env.str("FRONTEND_ORIGIN")
if FRONTEND_ORIGIN is not None:
    FRONTEND_ORIGIN = FRONTEND_ORIGIN.rstrip("/")
    if not FRONTEND_ORIGIN.startswith(("http://", "https://")):
        raise EnvError("FRONTEND_ORIGIN", "an origin like https://chat.example.com")
# Decided here, not at request time: test runners switch DEBUG off.
FRONTEND_ORIGIN_FROM_REQUEST = DEBUG and FRONTEND_ORIGIN is None
# Lifetime of the links in password-reset and verification emails, in seconds.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600, min_value=60)
# On: registration emails a link, and users who have not followed it may log in
# but not chat (403 email_unverified).
REQUIRE_EMAIL_VERIFICATION = env.bool("REQUIRE_EMAIL_VERIFICATION", default=False)
if REQUIRE_EMAIL_VERIFICATION and not (FRONTEND_ORIGIN or FRONTEND_ORIGIN_FROM_REQUEST):
    # Else every registration would make an account it cannot email a link to.
    raise EnvError("FRONTEND_ORIGIN", "the SPA's origin when REQUIRE_EMAIL_VERIFICATION is on")
# On: staff users must have TOTP to log in to the admin.
ADMIN_REQUIRE_MFA = env.bool("ADMIN_REQUIRE_MFA", default=False)
# The product name in account emails and next to the account in authenticator apps.
SITE_NAME = env.str("SITE_NAME", default="Secure Chat")
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].update(
    {
        # Every reset request counts, per client IP and per address asked for.
        "password_reset_ip": env.rate("THROTTLE_PASSWORD_RESET_IP", default="10/hour"),
        "password_reset_email": env.rate("THROTTLE_PASSWORD_RESET_EMAIL", default="3/hour"),
        # Following a link (reset confirm, email verify), per client IP.
        "email_link_ip": env.rate("THROTTLE_EMAIL_LINK_IP", default="30/hour"),
        "verification_resend": env.rate("THROTTLE_VERIFICATION_RESEND", default="3/hour"),
    }
)

# --------------------------------------------------------------------------
# Chat model: OpenAI, any OpenAI-compatible server, or the offline demo
# https://openai.github.io/openai-agents-python/models/
# --------------------------------------------------------------------------

OPENAI_API_KEY = env.str("OPENAI_API_KEY")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL")
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4.1-mini")
_default_model_api = "chat_completions" if OPENAI_BASE_URL else "responses"
CHAT_MODEL_API = env.choice(
    "CHAT_MODEL_API", default=_default_model_api, choices=("responses", "chat_completions")
)
# chat.openai_client.StreamingOpenAI (0: the library's stock client). docs/performance.md.
OPENAI_FAST_CLIENT = env.bool("OPENAI_FAST_CLIENT", default=True)
CHAT_MAX_MESSAGE_CHARS = env.int("CHAT_MAX_MESSAGE_CHARS", default=32_000, min_value=1)
# The assistant's identity. A staff user can replace it (and the model and tools)
# in the admin without a deploy: the "Assistant profile" (chat.agent).
CHAT_ASSISTANT_NAME = env.str("CHAT_ASSISTANT_NAME", default="Assistant")
# Which registered tools (chat/tools.py, chat/custom_tools.py) the agent may call:
# "all" (the default), "none", or a comma list. An unknown name stops start-up.
_chat_tools = env.list("CHAT_TOOLS", default=["all"])
CHAT_TOOLS: list[str] | None = (
    None if _chat_tools == ["all"] else [] if _chat_tools == ["none"] else _chat_tools
)
CHAT_INSTRUCTIONS = env.str(
    "CHAT_INSTRUCTIONS",
    default=(
        "You are a helpful, concise assistant. Answer in Markdown. Use the tools when a "
        "question needs the current date or time or exact arithmetic."
    ),
)
# Tracing posts run traces to OpenAI; off unless asked for.
CHAT_TRACING = env.bool("CHAT_TRACING", default=False)
CHAT_MAX_TURNS = env.int("CHAT_MAX_TURNS", default=10, min_value=1)
CHAT_UPSTREAM_TIMEOUT_SECONDS = env.int("CHAT_UPSTREAM_TIMEOUT_SECONDS", default=120, min_value=1)
CHAT_UPSTREAM_MAX_RETRIES = env.int("CHAT_UPSTREAM_MAX_RETRIES", default=2, min_value=0)
# ": ping" after this much silence keeps idle proxies from closing the stream.
CHAT_PING_MS = env.int("CHAT_PING_MS", default=15_000, min_value=10)
# A run lock older than this is treated as abandoned whatever its lease says
# (a backstop: a crashed worker's turn is noticed by its lease).
CHAT_RUN_STALE_SECONDS = env.int("CHAT_RUN_STALE_SECONDS", default=900, min_value=1)
# A background run's events are kept this long after it ends (resume, replay).
RUN_EVENTS_TTL_SECONDS = env.int("RUN_EVENTS_TTL_SECONDS", default=600, min_value=1)
# Pause between the offline demo model's tokens (0 in tests).
CHAT_DEMO_TOKEN_MS = env.int("CHAT_DEMO_TOKEN_MS", default=18, min_value=0)

# --------------------------------------------------------------------------
# Crash-safe turns: checkpoints and leases (chat.turn, chat.services)
# --------------------------------------------------------------------------

# A streaming reply is saved at most this often (never per token): a crash
# loses at most this much text.
CHAT_CHECKPOINT_SECONDS = env.int("CHAT_CHECKPOINT_SECONDS", default=2, min_value=1)
# A live turn's worker renews its lease about three times within this; a turn
# whose lease ran out is recorded as interrupted (its worker died) and its
# conversation is free again.
CHAT_RUN_LEASE_SECONDS = env.int("CHAT_RUN_LEASE_SECONDS", default=10, min_value=3)

# --------------------------------------------------------------------------
# Chat limits: history served, WebSocket frames (chat.apis, chat.consumers)
# --------------------------------------------------------------------------

# GET /api/conversations/<id>/items returns at most this many items (the newest).
CHAT_ITEMS_MAX = env.int("CHAT_ITEMS_MAX", default=1000, min_value=1)
# A WebSocket frame over this size closes the socket with 1009. Enforced by the
# server: scripts/serve passes it to uvicorn (--ws-max-size); Daphne gets
# --websocket-max-message-size (make run, the tests) or, under `manage.py
# runserver`, the two DAPHNE_ settings below.
WS_MAX_FRAME_BYTES = env.int("WS_MAX_FRAME_BYTES", default=65_536, min_value=1024)
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = WS_MAX_FRAME_BYTES
# More frames than this in any minute close the socket with 4429.
WS_MAX_FRAMES_PER_MINUTE = env.int("WS_MAX_FRAMES_PER_MINUTE", default=120, min_value=1)

# --------------------------------------------------------------------------
# Tool calls: a time limit per call; sync tools run in worker processes
# (chat/tool_pool.py, docs/customising.md#tools)
# --------------------------------------------------------------------------

CHAT_TOOL_TIMEOUT_SECONDS = env.int("CHAT_TOOL_TIMEOUT_SECONDS", default=10, min_value=1)

# Request bodies: 1 MB is plenty for a chat message.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000_000

# --------------------------------------------------------------------------
# Usage: quotas, limits and the ledger (usage/, docs/customising.md "Limits and quotas")
# Defaults for everyone; an admin overrides the first three per group and per
# user ("Usage limits"). Counted per user across processes when REDIS_URL is set.
# --------------------------------------------------------------------------

# Live turns of one user at once (SSE, background runs and WebSocket together).
CHAT_CONCURRENT_TURNS = env.int("CHAT_CONCURRENT_TURNS", default=3, min_value=1)
# Turns one user may start in any 60 seconds.
CHAT_TURNS_PER_MINUTE = env.int("CHAT_TURNS_PER_MINUTE", default=20, min_value=1)
# Input + output tokens per user per UTC day; 0 = unlimited.
CHAT_DAILY_TOKENS = env.int("CHAT_DAILY_TOKENS", default=1_000_000, min_value=0)
# Estimated tokens of earlier turns sent upstream with a message; 0 = the whole history.
CHAT_HISTORY_MAX_TOKENS = env.int("CHAT_HISTORY_MAX_TOKENS", default=16_000, min_value=0)
# Output cap passed to the model on every call; 0 = send none (the server's default).
CHAT_MAX_OUTPUT_TOKENS = env.int("CHAT_MAX_OUTPUT_TOKENS", default=4096, min_value=0)
# A live turn's slot lapses this long after its last renewal (a worker that died).
CHAT_TURN_LEASE_SECONDS = env.int("CHAT_TURN_LEASE_SECONDS", default=60, min_value=1)

# --------------------------------------------------------------------------
# Security headers (more are switched on when not DEBUG)
# https://docs.djangoproject.com/en/5.2/ref/middleware/#module-django.middleware.security
# --------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000, min_value=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # /healthz and /readyz are probed over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --------------------------------------------------------------------------
# Metrics: GET /metrics in Prometheus text format (chatproject/metrics.py)
# https://prometheus.github.io/client_python/
# --------------------------------------------------------------------------

# Unset: /metrics is 404. Set: scrapers send "Authorization: Bearer <token>".
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --------------------------------------------------------------------------
# Graceful shutdown (chatproject/shutdown.py; scripts/serve)
# --------------------------------------------------------------------------

# After SIGTERM: new turns get 503, live turns get this long to finish, then
# they are recorded as interrupted. Keep it under scripts/serve's graceful
# timeout and the orchestrator's stop grace period (docker-compose.yml).
SHUTDOWN_GRACE_SECONDS = env.int("SHUTDOWN_GRACE_SECONDS", default=25, min_value=0)

# --------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------

LOG_FORMAT = env.choice("LOG_FORMAT", default="plain", choices=("plain", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # Control characters in messages (paths, anything a client sent) escaped.
        "plain": {
            "()": "chatproject.logging.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "chatproject.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {
        "handlers": ["console"],
        "level": env.choice(
            "LOG_LEVEL", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")
        ),
    },
    "loggers": {
        # Only our handler: Django's own (a DEBUG console handler) would print
        # each django.* record a second time, unescaped.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Our one line per request replaces Django's and Daphne's access lines.
        "django.request": {"level": "ERROR"},
        "django.channels.server": {"level": "WARNING"},
    },
}
