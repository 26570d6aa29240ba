"""Running it: security headers, metrics, graceful shutdown, logging."""

from __future__ import annotations

from chatproject.settings.core import DEBUG, env

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
