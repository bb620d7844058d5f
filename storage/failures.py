"""A database failure as one sentence the operator can act on: unreachable, missing, login refused.

The command line shows it instead of the driver's traceback. The sentence names the database by host,
port and name (or the SQLite file), never by the URL: that may hold a password.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from storage.migrate import UnknownSchema

_MISSING_DATABASE = "3D000"  # PostgreSQL's invalid_catalog_name
_LOGIN_REFUSED = ("28000", "28P01")  # invalid_authorization_specification, invalid_password
_STARTING = ("57P03",)  # cannot_connect_now: starting up, shutting down, in recovery


def database_name(url: str) -> str:
    """`PostgreSQL at host:5432/name` or `the SQLite file /path/draftloop.db`, without user or password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "the database"
    if parsed.get_backend_name() == "sqlite":
        return f"the SQLite file {parsed.database}"
    return f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop(0)
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [getattr(item, "orig", None), item.__cause__, item.__context__]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _from_a_driver(item: BaseException) -> bool:
    module = type(item).__module__
    return isinstance(item, DBAPIError | sqlite3.Error | UnknownSchema) or module.split(".")[0] == "asyncpg"


def describe_failure(exc: BaseException, url: str, *, connecting: bool = False) -> str | None:
    """One sentence for a failure reaching or using the database at `url`; None when `exc` is not one.

    A plain OSError (connection refused, an unknown host) counts only while `connecting` to the
    database: later, it may come from anything else the process talks to."""
    if not connecting and not any(_from_a_driver(item) for item in _chain(exc)):
        return None
    where = database_name(url)
    for item in _chain(exc):
        state = getattr(item, "sqlstate", None)
        if isinstance(item, UnknownSchema):
            return str(item)
        if state == _MISSING_DATABASE:
            return f"{where} does not exist ({_first_line(item)}); create it or fix DATABASE_URL"
        if state in _LOGIN_REFUSED:
            return f"{where} refused the login ({_first_line(item)}); check the user and password in DATABASE_URL"
        if state in _STARTING:
            return f"{where} is not accepting connections yet ({_first_line(item)}); try again shortly"
        if isinstance(item, ConnectionRefusedError):
            return f"cannot connect to {where}: connection refused; is the database running, and is DATABASE_URL right?"
        if isinstance(item, socket.gaierror):
            return f"cannot connect to {where}: the host name does not resolve; check DATABASE_URL"
        if isinstance(item, TimeoutError):
            return f"cannot connect to {where}: no answer in time; check the host and the network"
        if isinstance(item, sqlite3.DatabaseError):
            message = _first_line(item)
            if "unable to open" in message:
                return f"cannot open {where}; its directory must exist and be writable, and the path must be a file"
            if "not a database" in message:
                return f"{where} is not a SQLite database; point DATABASE_URL at a draftloop database file"
            if "readonly" in message or "read-only" in message:
                return f"{where} is read-only; draftloop needs to write there"
    if isinstance(exc, DBAPIError):
        orig = exc.orig if exc.orig is not None else exc
        return f"{where} failed: {_first_line(orig)}"
    return None
