"""Is a pasted DATABASE_URL one draftloop can use? Answered at start-up, before any connection.

A pure check (no file is created, nothing connects), so the settings can refuse a URL with one line
naming what is wrong and what is accepted. The sentence never repeats the URL: it may hold a password.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# No password in the example: the redaction would mask it, and the hint would read "[redacted]".
# A plain SQLite file URL or PostgreSQL URL, the usual DATABASE_URLs, is answered without SQLAlchemy
# (start-up time: benchmarks/bench_startup.py); anything else goes through make_url.
_SQLITE_FILE = re.compile(r"^sqlite(?:\+aiosqlite|\+pysqlite)?:///(?P<path>[^?#%]+)$")
# No query options (sslmode and the like are the engine's to translate for asyncpg).
_PLAIN_POSTGRES = re.compile(r"^postgres(?:ql)?(?:\+asyncpg)?://(?P<rest>[^?#]*)$")
ACCEPTED = "sqlite:///PATH.db, postgresql://USER@HOST:PORT/NAME (a password after USER: as usual) or postgres://…"


def plain_sqlite_path(url: str) -> str | None:
    """The file path of a plain SQLite file URL (no query options, no %-escapes, not :memory:), else None."""
    found = _SQLITE_FILE.match(url.strip())
    if found is None or found.group("path") == ":memory:":
        return None
    return found.group("path")


def plain_postgres_dsn(url: str | None) -> str | None:
    """A plain PostgreSQL URL (no query options, a port in range) as asyncpg takes it, else None:
    anything else (SQLite, query options such as sslmode) goes through the engine."""
    found = _PLAIN_POSTGRES.match(url.strip()) if url else None
    if found is None:
        return None
    dsn = "postgresql://" + found.group("rest")
    try:
        port = urlsplit(dsn).port  # raises on a port that is not a number in range
    except ValueError:
        return None
    return None if port == 0 else dsn


def database_url_problem(url: str) -> str | None:
    """What is wrong with `url` as DATABASE_URL, in one sentence; None when it is usable.

    Accepted: `sqlite:///path.db` (a file: an in-memory database would lose everything at exit),
    `postgresql://…` and `postgres://…` as hosting platforms hand it out, with or without a driver
    (`+asyncpg`, `+aiosqlite`: the async driver is chosen anyway).
    """
    if plain_sqlite_path(url) is not None or plain_postgres_dsn(url) is not None:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
        port = parsed.port
    except (ArgumentError, ValueError):
        return f"it is not a database URL; use {ACCEPTED}"
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
            return (
                "an in-memory SQLite database would lose every project at exit; "
                "use a file, e.g. sqlite:///data/draftloop.db"
            )
        return None
    if backend == "postgresql":
        if port is not None and not 0 < port < 65536:
            return f"port {port} is not a TCP port (1-65535)"
        return None
    return f"{backend!r} databases are not supported; use {ACCEPTED}"
