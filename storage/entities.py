"""Table rows read as SQLModel objects without the ORM's loading: the loop's reads by key.

Every step of the loop reads its project (by id, by thread, by message, as it claims the lease or
stores a version) and some read the latest version or the feedback. Loaded by the ORM, each such
read cost more CPU than its round trip (bench_core on PostgreSQL, profiled: the ORM's execution
and loading were a quarter of the core's CPU). Here the statement is a Core statement over the
table, returning the table's columns in the table's order; it runs through `direct.execute` (asyncpg
directly on PostgreSQL, `session.execute` elsewhere), and each row becomes an object the way the
ORM's loader builds one: the class's `__new__` (SQLModel sets up its pydantic state there), the
instrumentation's state, the values put straight into the object's `__dict__`.

The objects are detached, as an ORM object is after its session closed (the sessions here keep
values on commit, storage/engine.py): they are not in the session's identity map, a second read
returns a second object with the values as they are then, and changing an attribute writes
nothing. The loop writes through the storage functions only (docs/architecture.md).

Statements given here are built once, at module level: `direct.execute` compiles and keeps each one
it sees. A query built per call (a list with filters chosen at run time) stays an ORM query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic_core import PydanticUndefined
from sqlalchemy import Insert, Table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, class_mapper
from sqlalchemy.orm.instrumentation import ClassManager, manager_of_class

from storage import direct
from storage.statements import insert_values

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class _Shape:
    keys: tuple[str, ...]  # attribute names, in the table's column order
    manager: ClassManager[Any]
    identity_class: type
    pk_index: int
    defaults: Mapping[str, Any]  # the model's default of each column that has one, the id's aside
    factories: Mapping[str, Callable[[], Any]]  # columns whose default is made per row
    required: frozenset[str]  # columns without a default, the id's aside


_shapes: dict[type, _Shape] = {}


def _shape(model: type) -> _Shape:
    try:
        return _shapes[model]
    except KeyError:
        pass
    mapper: Mapper[Any] = class_mapper(model)
    table = mapper.local_table
    assert isinstance(table, Table)
    (pk,) = mapper.primary_key  # every table here has a one-column id
    columns = list(table.c)
    keys = tuple(mapper.get_property_by_column(column).key for column in columns)
    fields = {key: model.model_fields[key] for key in keys if key != pk.key}  # type: ignore[attr-defined]
    factories = {key: field.default_factory for key, field in fields.items() if field.default_factory is not None}
    defaults = {
        key: field.default
        for key, field in fields.items()
        if key not in factories and field.default is not PydanticUndefined
    }
    shape = _shapes[model] = _Shape(
        keys,
        manager_of_class(model),
        mapper._identity_class,
        columns.index(pk),
        defaults,
        factories,
        frozenset(fields) - defaults.keys() - factories.keys(),
    )
    return shape


def build(model: type[M], row: Sequence[Any]) -> M:
    """An object of `model` holding `row`, a row of the model's table with every column in order."""
    return _built(_shape(model), row)  # type: ignore[no-any-return]


def _built(shape: _Shape, row: Sequence[Any]) -> Any:
    entity = shape.manager.new_instance()
    entity.__dict__.update(zip(shape.keys, row, strict=True))
    # Detached, not transient: it is a stored row, as an ORM object is after its session closed.
    entity._sa_instance_state.key = (shape.identity_class, (row[shape.pk_index],), None)
    return entity


async def inserted(session: AsyncSession, model: type[M], stmt: Insert, values: Mapping[str, Any]) -> M:
    """INSERT a new row of `model` with `values` (columns not named take the model's defaults):
    the row as an object, with the id the database chose. Cheaper than building the model's object
    to insert it (SQLModel's __init__ cost more CPU than the INSERT) or session.add() and a flush."""
    shape = _shape(model)
    pk = shape.keys[shape.pk_index]
    if pk in values:
        raise ValueError(f"a new {model.__name__}'s {pk} is the database's to choose")
    missing = shape.required - values.keys()
    unknown = values.keys() - shape.defaults.keys() - shape.factories.keys() - shape.required
    if missing or unknown:
        raise TypeError(f"{model.__name__}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    made = {key: make() for key, make in shape.factories.items() if key not in values}
    row = {**shape.defaults, **made, **values}
    row[pk] = await insert_values(session, stmt, row)
    return build(model, [row[key] for key in shape.keys])


async def all_of(session: AsyncSession, model: type[M], stmt: direct.Statement, params: Mapping[str, Any]) -> list[M]:
    """Every row `stmt` returns, as objects of `model`; `stmt` returns all of the table's columns
    in the table's order (`select(table)`, `.returning(*table.c)`)."""
    rows = (await direct.execute(session, stmt, params)).all()
    shape = _shape(model)
    return [_built(shape, row) for row in rows]


async def one_of(session: AsyncSession, model: type[M], stmt: direct.Statement, params: Mapping[str, Any]) -> M | None:
    """The one row `stmt` returns, as an object of `model`, or None when it returns none."""
    found = await all_of(session, model, stmt, params)
    if len(found) > 1:
        raise LookupError(f"expected at most one {model.__name__}, got {len(found)}")
    return found[0] if found else None
