"""The hot statements on PostgreSQL, sent to asyncpg directly inside the session's transaction.

On every step of the loop the bot runs a handful of small writes and reads by key. Through
`session.execute` each costs about 170 µs of CPU in SQLAlchemy's execution layer on PostgreSQL
(the session's dispatch, the greenlet bridge, the execution context, bind processing, the cursor
adapter, the result), about twice what asyncpg itself spends on it (bench_core, profiled). `execute` below keeps what
that layer does for these statements and drops the rest:

- the statement is the Core statement the storage module built once, compiled by SQLAlchemy for
  the dialect once per set of parameter names, with its bind processors applied, and the result
  processors of the columns it returns applied to the rows (aware UTC datetimes, storage/types.py);
- it runs on the connection of the session's transaction, begun the way SQLAlchemy's asyncpg
  adapter begins it, under the adapter's per-connection lock and through its prepared-statement
  cache, so the commit, the rollback and the next ORM statement see one transaction;
- the engine's `before_cursor_execute` listeners see it (the text hygiene of storage/hygiene.py,
  a benchmark's statement log);
- a failure is raised as SQLAlchemy raises it (IntegrityError and the rest), after the engine's
  `handle_error` listeners ran and a lost connection was invalidated.

A unit of work whose first statement comes here (`Database.session()` marks its sessions with a
`Unit`) does not begin the session's transaction at all: its connection is checked out of the
engine's pool and begun here, and `commit` ends it with one COMMIT and a return to the pool. The
session's own begin, connection, commit and close cost about as much CPU again as the bare driver's
whole unit (BEGIN, one UPDATE, COMMIT, measured alone: 265 µs through the session, 170 µs here, 135 µs
on a bare asyncpg pool). The session joins that connection if the unit goes on with the ORM (`UnitSession`),
so a unit is still one connection and one transaction whichever comes first.

Anything else goes through `session.execute` unchanged: SQLite (its own in-place driver is cheaper
already, storage/sqlite_driver.py), a statement with values computed in Python at execution, a
driver other than asyncpg, or an asyncpg adapter without the parts used here (they are SQLAlchemy
2.1's; tests/storage/test_direct.py fails if an upgrade moves them). Reads that return table
rows as objects build them with storage/entities.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InvalidRequestError, PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select
from sqlalchemy.util import greenlet_spawn

# What `execute` runs: the storage modules' Core reads and writes.
Statement = Select[Any] | UpdateBase


@dataclass(slots=True)
class _Plan:
    """A statement compiled for asyncpg: its SQL, and where each positional argument comes from."""

    sql: str
    # Per argument: the parameter's name and, for a list expanded into IN (…), the item's index.
    sources: tuple[tuple[str, int | None], ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    defaults: Mapping[str, Any]  # values the statement carries itself (`.values(last_error="")`)
    types: tuple[Any, ...]  # the SQLAlchemy type of each returned column
    # Per returned column, set at the first execution (a processor may depend on the type the
    # server describes, as the asyncpg dialect's numbers do); None: none to apply.
    results: tuple[Callable[[Any], Any] | None, ...] | None = None
    described: bool = False


@dataclass(slots=True)
class _Compiled:
    """A statement compiled once for a set of parameter names; a plan per length of its lists."""

    compiled: SQLCompiler | None  # None: session.execute runs it (see the module's docstring)
    expanding: tuple[str, ...] = ()
    plans: dict[tuple[int, ...], _Plan | None] = field(default_factory=dict)


class Result:
    """What the storage modules read from a write: rows it returned, rows it matched."""

    __slots__ = ("rows", "rowcount")

    def __init__(self, rows: Sequence[Any], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def all(self) -> Sequence[Any]:
        return self.rows

    def first(self) -> Any:
        return tuple(self.rows[0]) if self.rows else None

    def scalar_one(self) -> Any:
        if len(self.rows) != 1:
            raise LookupError(f"expected one row, got {len(self.rows)}")
        return self.rows[0][0]

    def scalar_one_or_none(self) -> Any:
        return self.rows[0][0] if self.rows else None

    @property
    def inserted_primary_key(self) -> tuple[Any, ...]:
        """As SQLAlchemy's, for an INSERT whose one RETURNING is the implicit one of its id."""
        return tuple(self.rows[0])


# Keyed by the statement's id and its parameters' names; the statement is kept with its entry, so
# the id is never another's. Storage builds a bounded set of statements, so this stays small.
_compiled: dict[tuple[int, frozenset[str]], tuple[Statement, _Compiled]] = {}
_CONNECTION = "draftloop.direct"  # session.info: (the transaction, its Connection)
UNIT = "draftloop.unit"  # session.info: the Unit of a session `Database.session()` made


class Unit:
    """The connection a unit of work's first direct statement began, outside the session; None
    until then, and again once `commit` or `discard` gave it back."""

    __slots__ = ("connection",)

    def __init__(self) -> None:
        self.connection: Connection | None = None


class UnitSession(Session):
    """A session that joins its unit's connection, once a direct statement began one, instead of
    checking out a second: the ORM then runs in the unit's transaction. Made with
    `join_transaction_mode="rollback_only"`, its commit leaves that transaction to `commit` below,
    and its rollback rolls it back."""

    def get_bind(self, mapper: Any = None, **kw: Any) -> Engine | Connection:
        unit = self.info.get(UNIT)
        if unit is not None and unit.connection is not None:
            connection: Connection = unit.connection
            return connection
        return super().get_bind(mapper, **kw)


def _compile(stmt: Statement, names: frozenset[str], dialect: Any) -> _Compiled:
    compiled = stmt.compile(dialect=dialect, column_keys=sorted(names))
    if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
        return _Compiled(None)
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.literal_execute_params:
        return _Compiled(None)  # a value computed in Python at execution: SQLAlchemy's to do
    expanding = tuple(sorted(name for name, bind in compiled.binds.items() if bind.expanding))
    return _Compiled(compiled, expanding)


def _plan(compiled: SQLCompiler, params: Mapping[str, Any]) -> _Plan | None:
    try:
        expanded = compiled.construct_expanded_state(params)
    except InvalidRequestError:
        return None  # a value is missing: session.execute raises SQLAlchemy's own error, naming it
    assert expanded.positiontup is not None
    item_of = {item: (name, i) for name, items in expanded.parameter_expansion.items() for i, item in enumerate(items)}
    sources = tuple(item_of.get(name, (name, None)) for name in expanded.positiontup)
    unnamed = [name for name, index in sources if index is None and name not in params]
    processors = compiled._bind_processors
    return _Plan(
        sql=expanded.statement,
        sources=sources,
        processors=tuple(processors.get(name) for name, _ in sources),  # type: ignore[misc]
        defaults={name: compiled.binds[name].effective_value for name in unnamed},
        types=tuple(column.type for column in compiled._result_columns),
    )


def _arguments(plan: _Plan, params: Mapping[str, Any]) -> list[Any]:
    args = []
    for (name, index), processor in zip(plan.sources, plan.processors, strict=True):
        value = params[name] if name in params else plan.defaults[name]
        if index is not None:
            value = value[index]
        args.append(value if processor is None else processor(value))
    return args


# What execute uses of SQLAlchemy's asyncpg adapter (2.1): checked once per adapter class.
ADAPTER_PARTS = (
    "_execute_mutex",
    "_transaction",
    "_start_transaction",
    "_prepare",
    "_handle_exception",
    "_call_and_discard",
)
_fitting: dict[type, bool] = {}


def fits(adapted: Any) -> bool:
    """Whether this DBAPI connection is the asyncpg adapter `execute` was written against."""
    kind = type(adapted)
    try:
        return _fitting[kind]
    except KeyError:
        ok = _fitting[kind] = all(hasattr(adapted, part) for part in ADAPTER_PARTS)
        return ok


async def _connection(session: AsyncSession) -> Connection:
    """The Connection of the session's transaction, begun (checked out) if need be; remembered for
    the rest of the transaction, so later statements need no trip through the greenlet bridge.
    Before the session has a transaction, the unit's own (see the module's docstring)."""
    transaction = session.sync_session.get_transaction()
    if transaction is None:
        unit: Unit | None = session.info.get(UNIT)
        if unit is not None:
            return await _unit_connection(session, unit)
    held = session.info.get(_CONNECTION)
    if held is not None and transaction is not None and held[0] is transaction and not held[1].invalidated:
        connection: Connection = held[1]
        return connection
    connection = (await session.connection()).sync_connection  # type: ignore[assignment]
    session.info[_CONNECTION] = (session.sync_session.get_transaction(), connection)
    return connection


async def _unit_connection(session: AsyncSession, unit: Unit) -> Connection:
    connection = unit.connection
    if connection is None:
        engine = session.sync_session.bind
        assert isinstance(engine, Engine)
        connection = await greenlet_spawn(engine.connect)  # the pool's checkout may ping: I/O
        # SQLAlchemy's transaction and its `begin` listeners; asyncpg's BEGIN goes with the first statement.
        connection.begin()
        unit.connection = connection
    elif connection.invalidated:
        raise PendingRollbackError("this unit of work lost its connection; it can only be rolled back")
    return connection


async def commit(unit: Unit) -> None:
    """COMMIT the unit's transaction and give its connection back to the pool."""
    connection = unit.connection
    assert connection is not None
    adapted: Any = connection.connection.dbapi_connection
    if fits(adapted):
        if adapted._transaction is not None:
            try:
                await adapted._call_and_discard(adapted._transaction.commit)
            except Exception as error:  # noqa: BLE001 - re-raised as SQLAlchemy raises it
                failed = error
                await greenlet_spawn(_raise_as_sqlalchemy, connection, adapted, failed, "COMMIT", ())
        # SQLAlchemy's side of it, with its `commit` listeners: the adapter has nothing left to send.
        connection.commit()
    else:
        await greenlet_spawn(connection.commit)
    unit.connection = None
    connection.close()  # no I/O: the transaction has ended, so the pool's reset sends nothing


async def discard(unit: Unit) -> None:
    """Roll back what the unit left open and give its connection back; the pool drops a connection
    that fails the rollback (SQLAlchemy's `Connection.close`)."""
    connection, unit.connection = unit.connection, None
    if connection is not None:
        await greenlet_spawn(connection.close)


def dialect_of(session: AsyncSession) -> Any:
    """The session's dialect: its bind's, read without `get_bind`'s routing (one engine here)."""
    bind = session.bind
    return (bind if bind is not None else session.get_bind()).dialect


async def execute(session: AsyncSession, stmt: Statement, params: Mapping[str, Any]) -> Any:
    """`session.execute(stmt, params)`, on asyncpg without SQLAlchemy's execution layer; returns
    a `Result` then (rows, rowcount), else SQLAlchemy's result, which has the same methods."""
    dialect = dialect_of(session)
    if dialect.driver != "asyncpg":
        return await session.execute(stmt, params)
    key = (id(stmt), frozenset(params))
    try:
        entry = _compiled[key][1]
    except KeyError:
        entry = _compile(stmt, key[1], dialect)
        _compiled[key] = (stmt, entry)
    if entry.compiled is None:
        return await session.execute(stmt, params)
    lengths = tuple(len(params[name]) for name in entry.expanding)
    try:
        plan = entry.plans[lengths]
    except KeyError:
        plan = entry.plans[lengths] = _plan(entry.compiled, params)
    if plan is None:
        return await session.execute(stmt, params)
    connection = await _connection(session)
    # SQLAlchemy's asyncpg adapter: its lock, its lazily begun transaction, its statement cache.
    adapted: Any = connection.connection.dbapi_connection
    if not fits(adapted):
        return await session.execute(stmt, params)
    sql, args = plan.sql, _arguments(plan, params)
    for listener in connection.dispatch.before_cursor_execute:
        sql, args = listener(connection, None, sql, args, None, False)
    try:
        async with adapted._execute_mutex:
            if adapted._transaction is None:
                await adapted._start_transaction()
            prepared, _ = await adapted._prepare(sql, dialect._invalidate_schema_cache_asof)
            rows = await prepared.fetch(*args)
            status = prepared.get_statusmsg() or ""
    except Exception as error:  # noqa: BLE001 - re-raised as SQLAlchemy raises it, below
        failed = error
        await session.run_sync(lambda _s: _raise_as_sqlalchemy(connection, adapted, failed, sql, args))
        raise AssertionError("unreachable") from error
    if not plan.described:
        _describe(plan, prepared, dialect)
    if plan.results is not None:
        rows = _processed(rows, plan.results)
    return Result(rows, _count(status))


def _describe(plan: _Plan, prepared: Any, dialect: Any) -> None:
    """The result processors of the plan's columns, for the types the server describes them as
    (what SQLAlchemy's cursor reads from the same prepared statement)."""
    described = [attribute.type.oid for attribute in prepared.get_attributes()]
    results = tuple(
        kind._cached_result_processor(dialect, oid) for kind, oid in zip(plan.types, described, strict=True)
    )
    plan.results = results if any(results) else None
    plan.described = True


def _processed(rows: Sequence[Any], results: tuple[Callable[[Any], Any] | None, ...]) -> list[tuple[Any, ...]]:
    return [
        tuple(value if process is None else process(value) for value, process in zip(row, results, strict=True))
        for row in rows
    ]


def _count(status: str) -> int:
    # "INSERT 0 1", "UPDATE 3", "SELECT 2", "DELETE 0": the last word is the row count.
    word = status.rpartition(" ")[2]
    return int(word) if word.isdigit() else -1


def _raise_as_sqlalchemy(connection: Connection, adapted: Any, error: Exception, sql: str, args: Any) -> None:
    """Translate as the asyncpg adapter does, then let the Connection run its error handling (the
    engine's handle_error listeners, invalidating a lost connection) and raise SQLAlchemy's error."""
    try:
        adapted._handle_exception(error)
    except Exception as translated:  # noqa: BLE001
        connection._handle_dbapi_exception(translated, sql, args, None, None)
    raise error
