"""People are stored and reported by name: a name learnt once stays until a new one replaces it (an
event that carries only an id says nothing about the name), and the digest names an expert whose
feedback was stored without a name by the name the people table knows. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot.events import Actor
from bot.loop.memory import People
from storage import Database, projects as store
from storage.feedback import add_feedback
from storage.metrics import experts
from storage.models import Person
from tests.conftest import FakeClock

NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


async def _touch(db: Database, name: str, *, user: str = "U1") -> None:
    async with db.session() as session:
        await store.touch_person(session=session, platform="slack", user_id=user, name=name, is_expert=False, now=NOW)


async def _name(db: Database, user: str = "U1") -> str:
    async with db.session() as session:
        query = select(col(Person.name)).where(col(Person.platform) == "slack", col(Person.user_id) == user)
        return str((await session.execute(query)).scalar_one())


async def test_a_name_learnt_once_is_not_overwritten_by_an_empty_one(db: Database) -> None:
    await _touch(db, "Alice")
    await _touch(db, "")
    assert await _name(db) == "Alice"
    await _touch(db, "Alicia")  # a new name does replace it
    assert await _name(db) == "Alicia"


async def test_the_people_memory_stores_a_name_never_the_id(db: Database, settings_factory: Any) -> None:
    settings = settings_factory()
    first = People(settings=settings, clock=FakeClock(NOW))
    async with db.session() as session:
        await first.touch(session, Actor("slack", "U1"), "writing")
    assert await _name(db) == ""  # not "U1": texts fall back to the id themselves
    async with db.session() as session:
        await first.touch(session, Actor("slack", "U1", name="Alice"), "writing")
    assert await _name(db) == "Alice"
    later = People(settings=settings, clock=FakeClock(NOW))  # another process, or after a restart
    async with db.session() as session:
        await later.touch(session, Actor("slack", "U1"), "writing")
        await first.touch(session, Actor("slack", "U1"), "writing")
    assert await _name(db) == "Alice"


async def _project_with_feedback(db: Database, *authors: tuple[str, str]) -> None:
    async with db.session() as session:
        project = await store.create_project(
            session=session,
            platform="slack",
            channel="C1",
            requester_id="UREQ",
            brief="Write a memo",
            category="writing",
            agent="offline",
            state="in_review",
            created_at=NOW,
            updated_at=NOW,
        )
        assert project.id is not None
        for i, (author_id, author_name) in enumerate(authors):
            await add_feedback(
                session=session,
                project_id=project.id,
                author_id=author_id,
                author_name=author_name,
                text="shorter",
                on_version=1,
                created_at=NOW + timedelta(minutes=i),
            )


async def test_the_digest_names_experts_whose_feedback_was_stored_by_id(db: Database) -> None:
    # Slack feedback used to be stored with the id as its author's name, or none at all
    await _project_with_feedback(db, ("UEXP", "UEXP"), ("UEXP", ""), ("UANA", ""), ("UNEW", ""), ("UBEN", "Ben"))
    await _touch(db, "Uexp", user="UEXP")
    await _touch(db, "Ana", user="UANA")
    await _touch(db, "", user="UNEW")  # never seen with a name: the id is all there is
    async with db.session() as session:
        found = await experts(session=session, since=NOW - timedelta(days=1), until=NOW + timedelta(days=1))
    assert {e.name: e.feedback for e in found} == {"Uexp": 2, "Ana": 1, "UNEW": 1, "Ben": 1}


async def test_an_expert_is_named_by_their_latest_name(db: Database) -> None:
    await _project_with_feedback(db, ("UEXP", "Zed"), ("UEXP", "Alex"))
    await _touch(db, "Alex", user="UEXP")  # renamed from Zed to Alex since
    async with db.session() as session:
        found = await experts(session=session, since=NOW - timedelta(days=1), until=NOW + timedelta(days=1))
    assert [(e.name, e.feedback) for e in found] == [("Alex", 2)]
