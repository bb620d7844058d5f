"""An inbound event's key is recorded in the transaction of its effect, on SQLite and PostgreSQL:
when storing the effect fails, the platform's retry of the same event is handled; once the effect
is stored (or the event refused), a redelivery is dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select, text

from bot import texts
from bot.app.runtime import Runtime
from bot.events import Actor, CommandInvoked, DecisionSignal, Locator, Outcome, ThreadRef, ThreadReply
from bot.settings import Settings
from storage.engine import Database
from storage.models import Decision, Feedback, InboundEvent, Person, Project
from tests.conftest import request_event


@asynccontextmanager
async def refusing(db: Database, what: str, table: str) -> AsyncIterator[None]:
    """Every `what` ("INSERT", "UPDATE") on `table` fails, as a full disk or a lost connection would,
    until the block ends."""
    name = f"refuse_{what}_{table}".lower()
    drop = f"DROP TRIGGER IF EXISTS {name}"
    async with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            await conn.execute(
                text(
                    f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql"
                )
            )
            await conn.execute(
                text(f"CREATE TRIGGER {name} BEFORE {what} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
            )
            drop += f" ON {table}"
        else:
            await conn.execute(
                text(f"CREATE TRIGGER {name} BEFORE {what} ON {table} BEGIN SELECT RAISE(ABORT, 'refused'); END")
            )
    try:
        yield
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text(drop))
            if db.dialect == "postgresql":
                await conn.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))


async def _count(db: Database, model: Any) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def _project(db: Database) -> Project:
    async with db.session() as s:
        return (await s.execute(select(Project))).scalar_one()


async def _drafted(make_runtime: Callable[..., Runtime], settings: Settings) -> Runtime:
    rt = make_runtime(settings)
    await rt.workflow.handle(request_event("a post on onboarding"))
    assert (await _project(rt.db)).current_version == 1
    return rt


ED = Actor("console", "alice", "alice")  # the requester: her replies are feedback, her word decides
BOB = Actor("console", "bob", "Bob")  # no experts are configured: anyone's reply is feedback


async def test_feedback_whose_storing_failed_is_handled_when_redelivered(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings], db: Database
) -> None:
    rt = await _drafted(make_runtime, settings_factory())
    reply = ThreadReply(Locator(number=1), BOB, "make it shorter", event_key="Ev-reply")
    async with refusing(db, "INSERT", "feedback"):
        await rt.workflow.handle(reply)
    assert rt.chat.texts()[-1] == texts.INTERNAL_ERROR  # type: ignore[attr-defined]
    assert await _count(db, Feedback) == 0 and await _count(db, InboundEvent) == 0

    await rt.workflow.handle(reply)  # the platform retries: the same key
    project = await _project(db)
    assert (project.current_version, project.feedback_count, project.state) == (2, 1, "in_review")
    assert "make it shorter" in rt.chat.drafts()[-1].reply.text  # type: ignore[attr-defined]

    await rt.workflow.handle(reply)  # stored now: a third delivery is dropped
    assert (await _project(db)).current_version == 2 and await _count(db, Feedback) == 1


async def test_the_author_of_a_failed_reply_is_recorded_by_its_retry(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings], db: Database
) -> None:
    rt = await _drafted(make_runtime, settings_factory())
    reply = ThreadReply(Locator(number=1), BOB, "make it shorter", event_key="Ev-reply")
    async with refusing(db, "UPDATE", "projects"):  # fails the reply's transaction after Bob was recorded in it
        await rt.workflow.handle(reply)
    await rt.workflow.handle(reply)
    assert (await _project(db)).current_version == 2
    async with db.session() as s:
        assert (await s.execute(select(Person.name).where(Person.user_id == "bob"))).scalar_one() == "Bob"


async def test_a_decision_whose_storing_failed_is_handled_when_redelivered(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings], db: Database
) -> None:
    rt = await _drafted(make_runtime, settings_factory())
    decision = DecisionSignal(Locator(number=1), ED, Outcome.ACCEPT, via="button", event_key="Ev-accept")
    async with refusing(db, "INSERT", "decisions"):
        await rt.workflow.handle(decision)
    assert rt.chat.texts()[-1] == texts.INTERNAL_ERROR  # type: ignore[attr-defined]
    assert (await _project(db)).state == "in_review"  # the state moved back with the failed insert

    await rt.workflow.handle(decision)
    assert ((await _project(db)).state, await _count(db, Decision)) == ("accepted", 1)
    posts = len(rt.chat.sent)  # type: ignore[attr-defined]
    await rt.workflow.handle(decision)
    assert len(rt.chat.sent) == posts  # type: ignore[attr-defined]


async def test_a_typed_decision_word_shares_the_replys_key(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings], db: Database
) -> None:
    rt = await _drafted(make_runtime, settings_factory())
    word = ThreadReply(Locator(number=1), ED, "accept", event_key="Ev-word")
    async with refusing(db, "INSERT", "decisions"):
        await rt.workflow.handle(word)
    await rt.workflow.handle(word)
    assert (await _project(db)).state == "accepted"


async def test_a_cancel_whose_storing_failed_is_handled_when_redelivered(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings], db: Database
) -> None:
    rt = await _drafted(make_runtime, settings_factory())
    here = ThreadRef("console", "C1", "1")
    cancel = CommandInvoked("cancel", ED, here, locator=Locator(number=1), event_key="Ev-cancel")
    async with refusing(db, "UPDATE", "projects"):
        await rt.workflow.handle(cancel)
    assert rt.chat.texts()[-1] == texts.INTERNAL_ERROR  # type: ignore[attr-defined]
    assert (await _project(db)).state == "in_review"
    await rt.workflow.handle(cancel)
    assert (await _project(db)).state == "cancelled"


async def test_a_refusal_is_not_repeated_for_a_redelivery(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings], db: Database
) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("a post on onboarding"))
    stranger = Actor("console", "mallory", "mallory")
    retry = CommandInvoked("retry", stranger, ThreadRef("console", "C1", "1"), args=("#1",), event_key="Ev-retry")
    await rt.workflow.handle(retry)
    refusals = len(rt.chat.sent)  # type: ignore[attr-defined]
    await rt.workflow.handle(retry)
    assert len(rt.chat.sent) == refusals  # type: ignore[attr-defined]
    assert await _count(db, InboundEvent) == 1
