"""Database, cache and static files: SQLite or PostgreSQL, local memory or Redis, WhiteNoise."""

from __future__ import annotations

from pathlib import Path

from chatproject.settings.core import BASE_DIR, DEBUG, env

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
# Connections per asyncio client (the usage slots', the run log's) per process;
# past it a command waits for a free one (chatproject.redis_clients).
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=1000, min_value=1)
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
