"""Storage follows the state names it is given: none of its queries spells one of the core's.

The sets here name states the core does not have, so a query that still spelled "drafting" or
"in_review" itself would find nothing and fail these tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.states import STORED, State
from storage import Database, StateSets, locks, metrics, projects as store
from tests.storage.stored import stored_project as _project

OTHER = StateSets(
    drafting="new",
    revising="fixing",
    review="waiting",
    accepted="ok",
    open=frozenset({"new", "fixing", "waiting"}),
    decided=frozenset({"ok", "no"}),
)


@pytest.fixture
def other_db(db: Database) -> Database:
    db.use_states(OTHER)
    return db


async def _feedback(db: Database, project_id: int, now: datetime) -> None:
    async with db.session() as session:
        await store.add_feedback(
            session=session, project_id=project_id, author_id="u2", text="shorter", on_version=1, created_at=now
        )


async def test_work_to_resume_and_open_projects_follow_the_given_names(other_db: Database, clock: Any) -> None:
    now = clock.now()
    new = await _project(other_db, now, state="new")
    waiting_with_feedback = await _project(other_db, now, state="waiting", current_version=1)
    await _feedback(other_db, waiting_with_feedback, now)
    await _project(other_db, now, state="waiting", current_version=1, posted_version=1)  # nothing pending
    shown_late = await _project(other_db, now, state="waiting", current_version=1)  # stored, its post failed
    await _project(other_db, now, state="ok", current_version=1)
    async with other_db.session() as session:
        assert await store.projects_needing_work(session=session, now=now) == [new, waiting_with_feedback, shown_late]
        listed = await store.open_projects(session=session, platform="console", channel="C1")
    assert [p.state for p in listed] == ["new", "waiting", "waiting", "waiting"]


async def test_a_finished_version_goes_to_the_given_review_or_revising_state(other_db: Database, clock: Any) -> None:
    now = clock.now()
    quiet = await _project(other_db, now, state="new", lease_owner="mine")
    busy = await _project(other_db, now, state="fixing", current_version=1, lease_owner="mine")
    await _feedback(other_db, busy, now)
    async with other_db.session() as session:
        done = await store.finish_version(
            session=session, project_id=quiet, number=1, model="m", working=["new", "fixing"], lease="mine", now=now
        )
        again = await store.finish_version(
            session=session, project_id=busy, number=2, model="m", working=["new", "fixing"], lease="mine", now=now
        )
    assert done is not None and (done.state, done.current_version) == ("waiting", 1)
    assert again is not None and again.state == "fixing"  # feedback still pending


async def test_a_writer_whose_lease_was_taken_over_stores_no_version(other_db: Database, clock: Any) -> None:
    now = clock.now()
    taken = await _project(other_db, now, state="new", lease_owner="the other process")
    async with other_db.session() as session:
        lost = await store.finish_version(
            session=session, project_id=taken, number=1, model="m", working=["new"], lease="stalled", now=now
        )
        kept = await store.finish_version(
            session=session, project_id=taken, number=1, model="m", working=["new"], lease="the other process", now=now
        )
    assert lost is None
    assert kept is not None and (kept.state, kept.current_version) == ("waiting", 1)


async def test_a_released_lease_reports_work_by_the_given_names(other_db: Database, clock: Any) -> None:
    now = clock.now()
    later = now + timedelta(minutes=5)
    first_draft_due = await _project(other_db, now, state="new")
    reviewed = await _project(other_db, now, state="waiting", current_version=1)
    async with other_db.session() as session:
        for pid in (first_draft_due, reviewed):
            assert await locks.claim(session=session, project_id=pid, owner="me", now=now, until=later)
    await _feedback(other_db, reviewed, now)
    async with other_db.session() as session:
        assert await locks.release(session=session, project_id=first_draft_due, owner="me") is True
        assert await locks.release(session=session, project_id=reviewed, owner="me") is True


async def test_the_digest_counts_the_given_decided_and_accepted_states(db: Database, clock: Any) -> None:
    now = clock.now()
    for state in ("ok", "no", "waiting"):
        await _project(db, now, state=state, current_version=1, accepted_version=1, decided_at=now, review_since=now)
    since, until = now - timedelta(days=1), now + timedelta(days=1)
    async with db.session() as session:
        figures = await metrics.figures(session=session, since=since, until=until, states=OTHER)
        core = await metrics.figures(session=session, since=since, until=until, states=STORED)
        waiting, total = await metrics.waiting(session=session, states=OTHER)
        _, core_total = await metrics.waiting(session=session, states=STORED)
    assert (figures["all"]["all"].decided, figures["all"]["all"].accepted) == (2, 1)
    assert (total, [w.number for w in waiting]) == (1, [3])
    assert core["all"]["all"].decided == 0 and core_total == 0  # none of these is a state of the core


async def test_a_database_without_state_sets_says_so(db: Database, clock: Any) -> None:
    async with db.session() as session:
        with pytest.raises(LookupError, match="no state sets"):
            await store.projects_needing_work(session=session, now=clock.now())


def test_one_database_serves_one_set_of_states(db: Database) -> None:
    db.use_states(STORED)
    db.use_states(STORED)  # the same again (a second Runtime on it) is fine
    with pytest.raises(ValueError):
        db.use_states(OTHER)


def test_the_core_names_every_state_storage_needs() -> None:
    assert STORED.working == (State.DRAFTING, State.REVISING)
    assert STORED.open == {"drafting", "in_review", "revising", "failed"}
    assert STORED.decided == {"accepted", "rejected", "expired", "failed"}
