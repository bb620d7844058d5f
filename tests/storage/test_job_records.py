"""The scheduled jobs' records (storage/digest_runs.py, storage/reminders.py), each in one transaction.

A digest run is won once, a failed or stale one may be taken over; a reminder or an expiry whose
`nudges` row exists already rolls its compare-and-set back with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.states import State
from storage import Database, projects as store
from storage.digest_runs import claim_digest_run, finish_digest_run
from storage.models import DigestRun, Nudge, Project
from storage.reminders import AlreadyRecorded, due_for_reminder, record_expiry, record_reminder
from tests.storage.stored import stored_project

REVIEW, EXPIRED = State.IN_REVIEW.value, State.EXPIRED.value
START = datetime(2026, 11, 16, tzinfo=UTC)  # the period every run here reports


async def _claim(db: Database, now: datetime, *, stale_before: datetime | None = None) -> bool:
    async with db.session() as session:
        return await claim_digest_run(
            session=session,
            channel="console:C",
            period_start=START,
            period_end=START + timedelta(days=7),
            now=now,
            stale_before=stale_before or now - timedelta(hours=1),
        )


async def _finish(db: Database, *, posted: bool) -> None:
    async with db.session() as session:
        await finish_digest_run(session=session, channel="console:C", period_start=START, posted=posted)


async def _status(db: Database) -> list[str]:
    async with db.session() as session:
        return list((await session.execute(select(DigestRun.status))).scalars())


async def test_a_digest_run_is_won_once_and_a_failed_one_taken_over(db: Database, clock: Any) -> None:
    now = clock.now()
    assert await _claim(db, now) is True
    assert await _claim(db, now) is False  # started a moment ago: another process has it
    await _finish(db, posted=False)
    assert await _status(db) == ["failed"]
    assert await _claim(db, now) is True
    assert await _status(db) == ["started"]
    await _finish(db, posted=True)
    assert await _claim(db, now) is False
    assert await _status(db) == ["posted"]


async def test_a_run_that_never_finished_is_taken_over_once_stale(db: Database, clock: Any) -> None:
    now = clock.now()
    assert await _claim(db, now) is True
    later = now + timedelta(hours=2)
    assert await _claim(db, later, stale_before=later - timedelta(hours=3)) is False
    assert await _claim(db, later, stale_before=later - timedelta(hours=1)) is True


async def _in_review(db: Database, now: datetime) -> int:
    return await stored_project(db, now, state=REVIEW, review_since=now, current_version=1)


async def _project(db: Database, project_id: int) -> Project:
    async with db.session() as session:
        project = await store.get_project(session=session, project_id=project_id)
    assert project is not None
    return project


async def test_a_reminder_counted_twice_is_rolled_back(db: Database, clock: Any) -> None:
    now = clock.now()
    pid = await _in_review(db, now)
    later = now + timedelta(hours=25)
    async with db.session() as session:
        due = await due_for_reminder(session=session, waiting=REVIEW, cutoff=later - timedelta(hours=24), limit=10)
        assert [p.id for p in due] == [pid]
        # a reminder recorded by some other path, without the count moving
        session.add(Nudge(project_id=pid, kind="nudge", seq=1, created_at=now))
    with pytest.raises(AlreadyRecorded):
        async with db.session() as session:
            await record_reminder(
                session=session, project_id=pid, seen_count=0, waiting=REVIEW, cutoff=later, now=later
            )
    project = await _project(db, pid)
    assert (project.nudge_count, project.last_nudged_at) == (0, None)  # the count went back with it


async def test_an_expiry_moves_once_and_only_an_idle_project(db: Database, clock: Any) -> None:
    now = clock.now()
    pid = await _in_review(db, now)
    later = now + timedelta(days=15)

    async def expire(cutoff: datetime) -> bool:
        async with db.session() as session:
            return await record_expiry(
                session=session, project_id=pid, waiting=REVIEW, target=EXPIRED, cutoff=cutoff, now=later
            )

    assert await expire(now - timedelta(seconds=1)) is False  # active after the cutoff
    assert await expire(later - timedelta(days=14)) is True
    assert await expire(later - timedelta(days=14)) is False  # no longer waiting
    project = await _project(db, pid)
    assert (project.state, project.decided_at, project.lease_owner) == (EXPIRED, later, None)
