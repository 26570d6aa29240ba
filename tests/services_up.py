"""Exit 0 when the PostgreSQL and Redis URLs given answer, 1 otherwise (used by .ci/run)."""

from __future__ import annotations

import sys


def postgres_up(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        print(f"PostgreSQL unreachable: {type(error).__name__}", file=sys.stderr)
        return False
    return True


def redis_up(url: str) -> bool:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        print(f"Redis unreachable: {type(error).__name__}", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    pg_url, redis_url = sys.argv[1], sys.argv[2]
    ok = postgres_up(pg_url) & redis_up(redis_url)
    raise SystemExit(0 if ok else 1)
