"""The projects waiting for review as they stood at a moment (a past period's digest): those that
entered review later are neither listed nor counted, beyond the listed ones too. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.states import STORED
from storage import Database, metrics
from tests.storage.stored import stored_project

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


async def test_waiting_before_a_moment_counts_only_those_in_review_then(db: Database) -> None:
    for hours in (0, 1, 2, 3):
        await stored_project(db, T0, state=STORED.review, review_since=T0 + timedelta(hours=hours))
    async with db.session() as session:
        now = await metrics.waiting(session=session, states=STORED, limit=1)
        then = await metrics.waiting(session=session, states=STORED, limit=1, before=T0 + timedelta(hours=1))
        early = await metrics.waiting(session=session, states=STORED, before=T0 - timedelta(minutes=1))
    assert ([w.number for w in now[0]], now[1]) == ([1], 4)
    assert ([w.number for w in then[0]], then[1]) == ([1], 2)  # projects 3 and 4 came later
    assert early == ([], 0)
