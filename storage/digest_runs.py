"""Digest runs: one row per (channel, period), inserted before the digest is posted.

The unique key is what makes a digest go out once across restarts, retries and several workers:
only the run whose insert won (or that took over a failed or stale run) posts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Insert, and_, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import DigestRun
from storage.statements import per_dialect, rowcount, table, upsert

STARTED, POSTED, FAILED = "started", "posted", "failed"

_runs = table(DigestRun)


@per_dialect
def _insert_run(dialect: str) -> Insert:
    return upsert(dialect, _runs).on_conflict_do_nothing(index_elements=["channel", "period_start"])


async def claim_digest_run(
    *,
    session: AsyncSession,
    channel: str,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
    stale_before: datetime,
) -> bool:
    """Record the run as started; True when this caller won it: no run was recorded, or the one
    recorded failed, or started before `stale_before` and never finished (its process died)."""
    values = {
        "channel": channel,
        "period_start": period_start,
        "period_end": period_end,
        "status": STARTED,
        "created_at": now,
    }
    if rowcount(await session.execute(_insert_run(session), values)) == 1:
        return True
    takeover = (
        update(DigestRun)
        .where(
            col(DigestRun.channel) == channel,
            col(DigestRun.period_start) == period_start,
            or_(
                col(DigestRun.status) == FAILED,
                and_(col(DigestRun.status) == STARTED, col(DigestRun.created_at) < stale_before),
            ),
        )
        .values(status=STARTED, created_at=now)
    )
    return rowcount(await session.execute(takeover)) == 1


async def finish_digest_run(*, session: AsyncSession, channel: str, period_start: datetime, posted: bool) -> None:
    """Mark the run posted, or failed (a later run may then take it over and retry)."""
    await session.execute(
        update(DigestRun)
        .where(col(DigestRun.channel) == channel, col(DigestRun.period_start) == period_start)
        .values(status=POSTED if posted else FAILED)
    )
