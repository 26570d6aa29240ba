"""Core: the environment reader, the secret key, hosts, apps, middleware, templates.

The first section (``chatproject.settings`` imports it before the others):
every later one takes ``env``, ``BASE_DIR``, ``DEBUG`` and ``SECRET_KEY`` from here.
"""

from __future__ import annotations

from pathlib import Path

from chatproject.env import Env, EnvError

env = Env()

# chatproject/settings/core.py -> the repository root.
BASE_DIR = Path(__file__).resolve().parent.parent.parent

# --------------------------------------------------------------------------
# Core
# https://docs.djangoproject.com/en/5.2/ref/settings/
# --------------------------------------------------------------------------

DEBUG = env.bool("DJANGO_DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-dev-only-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("DJANGO_SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
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
