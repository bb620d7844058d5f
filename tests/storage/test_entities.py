"""The loop's reads by key build their objects from rows (storage/entities.py), not through the
ORM's loading: the objects must hold what the ORM would load, come back detached, and show the
row as it is at each read. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic_core import PydanticUndefined
from sqlalchemy import event, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.states import STORED
from storage import entities, feedback, links, locks, projects as store, versions
from storage.engine import Database
from storage.models import Feedback, Project, Version
from storage.statements import table
from tests.storage.stored import stored_project

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
# A new project's values, every column without a default named.
NEW_PROJECT: dict[str, Any] = {"platform": "slack", "channel": "C7", "requester_id": "U1", "brief": "a brief"}
NEW_PROJECT |= {"category": "writing", "agent": "offline", "state": "new", "created_at": NOW, "updated_at": NOW}


async def _as_the_orm_loads(session: AsyncSession, model: type[Any], row_id: int) -> dict[str, Any]:
    loaded = (await session.execute(select(model).where(model.id == row_id))).scalar_one()
    return dict(loaded.model_dump())


@pytest.fixture
def orm_statements(db: Database) -> Iterator[list[str]]:
    """Statements that went through SQLAlchemy's ORM execution (an ORM-enabled statement)."""
    seen: list[str] = []

    def executed(_conn: Any, clause: Any, *_args: Any) -> None:
        if getattr(clause, "_propagate_attrs", {}).get("compile_state_plugin") == "orm":
            seen.append(str(clause))

    event.listen(db.engine.sync_engine, "before_execute", executed)
    yield seen
    event.remove(db.engine.sync_engine, "before_execute", executed)


async def _project_with_history(db: Database) -> int:
    number = await stored_project(db, NOW, state="review", thread_id="T1", current_version=1, lease_owner=None)
    async with db.session() as session:
        await versions.add_version(
            session=session, project_id=number, number=1, text="v1", agent="offline", created_at=NOW
        )
        await versions.add_version(
            session=session, project_id=number, number=2, text="v2", agent="offline", cost_usd=0.25, created_at=NOW
        )
        for text, aside in (("tighten it", False), ("an aside", True), ("cite sources", False)):
            await feedback.add_feedback(
                session=session,
                project_id=number,
                author_id="u2",
                text=text,
                on_version=1,
                is_aside=aside,
                stated_minutes=5,
                created_at=NOW,
            )
        await links.link_message(
            session=session, platform="console", channel="C1", message_id="M9", project_id=number, kind="draft"
        )
    return number


async def test_every_read_holds_what_the_orm_would_load(db: Database, orm_statements: list[str]) -> None:
    number = await _project_with_history(db)
    async with db.session() as session:
        read = [
            await store.get_project(session=session, project_id=number),
            await store.get_project(session=session, project_id=number, for_update=True),
            await store.find_by_thread(session=session, platform="console", channel="C1", thread_id="T1"),
            await links.find_by_message(session=session, platform="console", channel="C1", message_id="M9"),
        ]
        latest = await versions.latest_version(session=session, project_id=number)
        points = await feedback.feedback_points(session=session, project_id=number)
    assert orm_statements == []
    async with db.session() as session:
        expected = await _as_the_orm_loads(session, Project, number)
        assert latest is not None
        assert latest.model_dump() == await _as_the_orm_loads(session, Version, latest.id or 0)
        assert [p.model_dump() for p in points] == [
            await _as_the_orm_loads(session, Feedback, p.id or 0) for p in points
        ]
    assert [project.model_dump() if project else None for project in read] == [expected] * 4
    assert (latest.number, latest.cost_usd) == (2, 0.25)
    assert [point.text for point in points] == ["tighten it", "cite sources"]
    created = read[0].created_at if read[0] else None
    assert created == NOW and created.tzinfo is UTC


async def test_reads_by_key_find_nothing_as_none(db: Database) -> None:
    async with db.session() as session:
        assert await store.get_project(session=session, project_id=404) is None
        assert await store.find_by_thread(session=session, platform="console", channel="C1", thread_id="T404") is None
        assert await links.find_by_message(session=session, platform="console", channel="C1", message_id="M") is None
        assert await versions.latest_version(session=session, project_id=404) is None
        assert await feedback.feedback_points(session=session, project_id=404) == []


async def test_objects_read_back_from_a_write_show_the_row_after_it(db: Database, db_url: str) -> None:
    number = await stored_project(db, NOW, state="drafting")
    core = Database(db_url, states=STORED)  # finish_version moves to the core's states
    async with core.session() as session:
        before = await store.get_project(session=session, project_id=number)
        claimed = await locks.claim(
            session=session, project_id=number, owner="me", now=NOW, until=NOW + timedelta(minutes=5)
        )
        finished = await versions.finish_version(
            session=session, project_id=number, number=1, model="m1", working=["drafting"], lease="me", now=NOW
        )
        refused = await locks.claim(session=session, project_id=number, owner="you", now=NOW, until=NOW)
    assert before is not None and claimed is not None and finished is not None
    # Each read is its own object with the row as it was then (the ORM's identity map would have
    # handed back the first object, unchanged).
    assert (before.lease_owner, claimed.lease_owner) == (None, "me")
    assert claimed.lease_until == NOW + timedelta(minutes=5) and claimed.lease_until.tzinfo is UTC
    assert (finished.current_version, finished.model, finished.state) == (1, "m1", STORED.review)
    assert finished.first_draft_at == NOW
    assert refused is None
    async with db.session() as session:
        assert finished.model_dump() == await _as_the_orm_loads(session, Project, number)
    await core.dispose()


async def test_objects_are_detached_and_changing_one_writes_nothing(db: Database) -> None:
    number = await stored_project(db, NOW, state="review")
    async with db.session() as session:
        project = await store.get_project(session=session, project_id=number)
        assert project is not None
        state = inspect(project)
        assert state.detached and state.identity == (number,)
        assert project not in session
        project.brief = "changed in memory only"
    async with db.session() as session:
        again = await store.get_project(session=session, project_id=number)
    assert again is not None and again.brief == "a brief"
    assert project.brief == "changed in memory only"


async def test_a_statement_not_returning_the_whole_row_is_refused(db: Database) -> None:
    number = await stored_project(db, NOW, state="review")
    await stored_project(db, NOW, state="review")
    projects = table(Project)
    async with db.session() as session:
        with pytest.raises(ValueError):
            await entities.one_of(session, Project, select(projects.c.id, projects.c.state), {})
        with pytest.raises(LookupError):
            await entities.one_of(session, Project, select(projects).where(projects.c.id >= number), {})


async def test_a_created_project_holds_what_is_stored_and_the_models_defaults(db: Database) -> None:
    async with db.session() as session:
        created = await store.create_project(session=session, **NEW_PROJECT)
    assert created.id is not None and inspect(created).detached
    assert (created.current_version, created.feedback_count, created.last_error, created.lease_owner) == (
        0,
        0,
        "",
        None,
    )
    async with db.session() as session:
        assert created.model_dump() == await _as_the_orm_loads(session, Project, created.id)


async def test_an_insert_names_every_column_it_needs_and_no_other(db: Database) -> None:
    insert_project = table(Project).insert()
    values = NEW_PROJECT
    async with db.session() as session:
        with pytest.raises(ValueError, match="database's to choose"):
            await entities.inserted(session, Project, insert_project, {**values, "id": 7})
        with pytest.raises(TypeError, match=r"missing \['brief'\]"):
            await entities.inserted(session, Project, insert_project, {k: v for k, v in values.items() if k != "brief"})
        with pytest.raises(TypeError, match=r"unknown \['colour'\]"):
            await entities.inserted(session, Project, insert_project, {**values, "colour": "red"})
        assert await store.get_project(session=session, project_id=7) is None


async def test_a_default_made_per_row_is_made_for_each_insert(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # No table here has a default_factory yet; one added later must not share one value between rows.
    made = iter(["first", "second"])
    field = Project.model_fields["deadline"]
    monkeypatch.setattr(field, "default_factory", lambda: next(made))
    monkeypatch.setattr(field, "default", PydanticUndefined)
    monkeypatch.setattr(entities, "_shapes", {})
    values = NEW_PROJECT
    async with db.session() as session:
        one = await entities.inserted(session, Project, table(Project).insert(), values)
        two = await entities.inserted(session, Project, table(Project).insert(), values)
        given = await entities.inserted(session, Project, table(Project).insert(), {**values, "deadline": "Friday"})
    assert (one.deadline, two.deadline, given.deadline) == ("first", "second", "Friday")
    async with db.session() as session:
        stored = await store.get_project(session=session, project_id=two.id or 0)
    assert stored is not None and stored.deadline == "second"
