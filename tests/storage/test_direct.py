"""The hot writes on PostgreSQL go to asyncpg directly (storage/direct.py), and still behave as
SQLAlchemy's: in the session's transaction, seen by the engine's statement listeners, failing
with SQLAlchemy's errors, a lost connection invalidated and the unit retried. On SQLite the same
calls go through SQLAlchemy; every test here runs on both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, exc, text

from storage import direct, feedback, links, projects as store, versions
from storage.engine import Database
from storage.feedback import _consume_feedback
from storage.models import Decision, Feedback, Version
from storage.statements import table
from tests.faults.pg_faults import dsn
from tests.storage.stored import checked_out, stored_project

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class Listened:
    """What the engine's listeners saw: statements through SQLAlchemy's execution layer
    (`before_execute`), statements sent to the driver (`before_cursor_execute`), errors handled."""

    def __init__(self) -> None:
        self.executed: list[str] = []
        self.sent: list[tuple[str, Any]] = []
        self.errors: list[str] = []

    def executed_(self, _conn: Any, clause: Any, *_args: Any) -> None:
        self.executed.append(str(clause))

    def sent_(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        self.sent.append((statement, params))

    def error_(self, context: Any) -> None:
        self.errors.append(context.statement or "")


@pytest.fixture
def listened(db: Database) -> Iterator[Listened]:
    seen = Listened()
    hooks = [("before_execute", seen.executed_), ("before_cursor_execute", seen.sent_), ("handle_error", seen.error_)]
    for name, fn in hooks:
        event.listen(db.engine.sync_engine, name, fn)
    yield seen
    for name, fn in hooks:
        event.remove(db.engine.sync_engine, name, fn)


async def _brief(db: Database, project_id: int) -> str:
    async with db.session() as session:
        project = await store.get_project(session=session, project_id=project_id)
        assert project is not None
        return project.brief


async def test_hot_writes_skip_sqlalchemys_execution_layer_on_postgres_only(db: Database, listened: Listened) -> None:
    project_id = await stored_project(db, NOW, state="drafting")
    listened.executed.clear()
    listened.sent.clear()
    async with db.session() as session:
        await store.update_project(session=session, project_id=project_id, brief="new brief")
        assert await store.move_state(session=session, project_id=project_id, expected=["drafting"], target="review")
        assert await links.link_message(
            session=session, platform="console", channel="C1", message_id="m1", project_id=project_id, kind="draft"
        )
    through_layer = 0 if db.dialect == "postgresql" else 3
    assert len(listened.executed) == through_layer
    # Every statement still reaches the engine's statement listeners, with its values.
    assert [s.split()[0] for s, _ in listened.sent] == ["UPDATE", "UPDATE", "INSERT"]
    assert "new brief" in list(listened.sent[0][1])
    assert await _brief(db, project_id) == "new brief"


async def test_reads_by_key_skip_it_too_and_come_back_with_their_types(db: Database, listened: Listened) -> None:
    project_id = await stored_project(db, NOW, state="review", lease_until=NOW)
    listened.executed.clear()
    listened.sent.clear()
    async with db.session() as session:
        project = await store.get_project(session=session, project_id=project_id)
        found = await links.find_by_message(session=session, platform="console", channel="C1", message_id="none")
        assert await versions.latest_version(session=session, project_id=project_id) is None
    assert len(listened.executed) == (0 if db.dialect == "postgresql" else 3)
    assert [s.split()[0] for s, _ in listened.sent] == ["SELECT"] * 3
    # The columns' result processing applies on the direct path as through SQLAlchemy's.
    assert project is not None and found is None
    assert project.lease_until == NOW and project.lease_until.tzinfo is UTC
    assert project.created_at == NOW and project.created_at.tzinfo is UTC


async def test_a_direct_write_first_in_a_unit_begins_its_transaction_and_rolls_back_with_it(db: Database) -> None:
    project_id = await stored_project(db, NOW, state="drafting")
    with pytest.raises(RuntimeError, match="the unit fails"):
        async with db.session() as session:
            await store.update_project(session=session, project_id=project_id, brief="never kept")
            # An ORM read in the same unit sees the write: one connection, one transaction.
            project = await store.get_project(session=session, project_id=project_id)
            assert project is not None and project.brief == "never kept"
            raise RuntimeError("the unit fails")
    assert await _brief(db, project_id) == "a brief"
    assert checked_out(db) == 0


async def test_the_result_reads_as_sqlalchemys(db: Database) -> None:
    project_id = await stored_project(db, NOW, state="drafting")
    async with db.session() as session:
        first = links._link_message(session)
        params = {"platform": "console", "channel": "C1", "message_id": "m9", "project_id": project_id}
        result = await direct.execute(session, first, {**params, "kind": "draft", "version": 1})
        assert result.rowcount == 1
        again = await direct.execute(session, first, {**params, "kind": "draft", "version": 2})
        assert again.rowcount == 0  # ON CONFLICT DO NOTHING
        assert isinstance(result, direct.Result) == (db.dialect == "postgresql")


async def test_a_list_of_states_of_any_length_compares_and_sets(db: Database) -> None:
    project_id = await stored_project(db, NOW, state="drafting")
    async with db.session() as session:
        assert not await store.move_state(session=session, project_id=project_id, expected=[], target="review")
        assert not await store.move_state(session=session, project_id=project_id, expected=["review"], target="x")
        assert await store.move_state(
            session=session, project_id=project_id, expected=["review", "drafting"], target="revising"
        )
        assert await store.move_state(
            session=session, project_id=project_id, expected=["revising"], target="review", feedback_count=3
        )
        project = await store.get_project(session=session, project_id=project_id)
    assert project is not None and (project.state, project.feedback_count) == ("review", 3)


async def test_text_is_cleaned_on_the_way_in(db: Database) -> None:
    project_id = await stored_project(db, NOW, state="drafting")
    async with db.session() as session:
        await store.update_project(session=session, project_id=project_id, brief="nul\x00 and\r\nbreak \ud800")
    assert await _brief(db, project_id) == "nul and\nbreak \ufffd"


async def test_a_refused_write_raises_sqlalchemys_error_after_the_error_listeners(
    db: Database, listened: Listened
) -> None:
    with pytest.raises(exc.IntegrityError):
        async with db.session() as session:
            await links.link_message(
                session=session, platform="console", channel="C1", message_id="m1", project_id=999, kind="draft"
            )
    assert any("message_links" in statement for statement in listened.errors)
    project_id = await stored_project(db, NOW, state="drafting")  # the pool still serves
    assert await _brief(db, project_id) == "a brief"


async def test_a_missing_value_is_named_by_sqlalchemy(db: Database) -> None:
    with pytest.raises(exc.StatementError, match="upto_id"):
        async with db.session() as session:
            await direct.execute(session, _consume_feedback, {"project": 1, "version": 1})


async def test_a_connection_lost_under_a_direct_write_is_dropped_and_the_unit_retried(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        project_id = await stored_project(db, NOW, state="drafting")
        async with db.session() as session:
            backend = int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        admin = await asyncpg.connect(dsn(pg_url))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", backend)
        finally:
            await admin.close()
        attempts: list[int] = []

        async def work(session: Any) -> None:
            attempts.append(1)
            await store.update_project(session=session, project_id=project_id, brief="after the loss")

        await db.run(work)
        # The pooled connection was used moments ago, so it was lent out unpinged: the direct
        # write met the dead socket, SQLAlchemy invalidated it and the unit ran again on a new one.
        assert len(attempts) == 2
        assert await _brief(db, project_id) == "after the loss"
    finally:
        await db.dispose()


async def test_rows_stored_from_values_name_every_column(db: Database, listened: Listened) -> None:
    """Versions, feedback and decisions are inserted from values, with no model object to fill in
    the defaults: each INSERT must still name every column but the id (a new column needs a value)."""
    project_id = await stored_project(db, NOW, state="drafting")
    listened.sent.clear()
    async with db.session() as session:
        version = await versions.add_version(
            session=session, project_id=project_id, number=1, text="v1", agent="offline", created_at=NOW
        )
        point = await feedback.add_feedback(
            session=session, project_id=project_id, author_id="u2", text="shorter", on_version=1, created_at=NOW
        )
        decision = await feedback.add_decision(
            session=session, project_id=project_id, actor_id="u1", outcome="accepted", version=1, created_at=NOW
        )
    assert min(version, point, decision) >= 1
    inserts = {s.split()[2]: s for s, _ in listened.sent if s.startswith("INSERT")}
    for model in (Version, Feedback, Decision):
        named = inserts[model.__tablename__].split("(", 1)[1].split(")", 1)[0]
        assert sorted(c.strip() for c in named.split(",")) == sorted(set(table(model).c.keys()) - {"id"})
    async with db.session() as session:
        stored = await versions.latest_version(session=session, project_id=project_id)
        points = await feedback.feedback_points(session=session, project_id=project_id)
    assert stored is not None and (stored.id, stored.model, stored.feedback_upto) == (version, "", 0)
    assert [(p.id, p.author_name, p.consumed_by, p.is_aside) for p in points] == [(point, "", None, False)]


def test_another_adapter_is_left_to_sqlalchemy() -> None:
    class Adapter:
        _execute_mutex = _transaction = None  # an adapter with some of the parts only

    assert not direct.fits(Adapter())
    assert not direct.fits(object())
