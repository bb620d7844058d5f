"""The inbox: inbound deliveries stored before they are acknowledged, replayed until handled.

An adapter stores a delivery (its payload as the platform sent it, keyed by the event's key)
before it tells the platform "received"; when that write fails it does not acknowledge, and the
platform sends the delivery again. The entry is `pending` until the event's effect is stored: the
core marks it `done` in the same transaction (bot/loop/receipts.py), so it is never both handled
and pending. An entry whose claim ran out while pending (the process died, or its handling failed)
is claimed again by a sweeper and replayed by the platform that stored it.

The unique key (source, key) also decides which process handles a delivery that reached two
(Slack sends each event to one URL, but two processes may share a Socket Mode app): the one whose
insert wins; the other drops it before it calls any model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import direct
from storage.models import InboxEntry
from storage.statements import per_dialect, rowcount, table, upsert

PENDING, DONE, DROPPED = "pending", "done", "dropped"

_inbox = table(InboxEntry)


@per_dialect
def _store(dialect: str) -> Any:
    return (
        upsert(dialect, _inbox)
        .on_conflict_do_nothing(index_elements=["source", "key"])
        .returning(_inbox.c.source, _inbox.c.key)
    )


async def store_many(*, session: AsyncSession, rows: list[dict[str, object]]) -> set[tuple[str, str]]:
    """Store several deliveries in one statement (each row as `store` takes it, keys cut to 255);
    the (source, key) pairs that were new."""
    if not rows:
        return set()
    # One statement, its rows as parameters: SQLAlchemy sends them as one multi-row INSERT
    # ("insertmanyvalues") and compiles it once. Rows written into the statement (`.values(rows)`)
    # made a statement of its own each time, compiled afresh for every delivery.
    result = await session.execute(_store(session), rows)
    return {(str(src), str(key)) for src, key in result.all()}


_finish = (
    update(_inbox)
    .where(_inbox.c.source == bindparam("src"), _inbox.c.key == bindparam("k"), _inbox.c.status == PENDING)
    .values(status=DONE, payload="", claimed_until=None)
)


async def finish(*, session: AsyncSession, source: str, key: str) -> None:
    """The event's effect is stored: its delivery is done (its payload, a person's words, is not kept twice)."""
    await session.execute(_finish, {"src": source, "k": key[:255]})


_retry_at = (
    update(_inbox)
    .where(_inbox.c.source == bindparam("src"), _inbox.c.key == bindparam("k"), _inbox.c.status == PENDING)
    .values(claimed_until=bindparam("until"))
)


async def retry_at(*, session: AsyncSession, source: str, key: str, when: datetime) -> None:
    """Handling failed: let a sweeper claim the delivery again from `when`."""
    await session.execute(_retry_at, {"src": source, "k": key[:255], "until": when})


async def claim_due(
    *,
    session: AsyncSession,
    sources: list[str],
    now: datetime,
    until: datetime,
    limit: int = 50,
) -> list[InboxEntry]:
    """Claim pending deliveries whose claim ran out, oldest first; rows another sweeper is
    claiming right now are skipped (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one
    writer, and the claim is a compare-and-set on `claimed_until` either way)."""
    if not sources:
        return []
    due = (
        select(col(InboxEntry.id))
        .where(
            col(InboxEntry.status) == PENDING,
            col(InboxEntry.source).in_(sources),
            (col(InboxEntry.claimed_until) == None) | (col(InboxEntry.claimed_until) < now),  # noqa: E711
        )
        .order_by(col(InboxEntry.id))
        .limit(limit)
    )
    if direct.dialect_of(session).name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = [int(i) for i in (await session.execute(due)).scalars() if i is not None]
    if not ids:
        return []
    claimed = select(InboxEntry).from_statement(
        update(_inbox)
        .where(
            _inbox.c.id.in_(ids),
            _inbox.c.status == PENDING,
            (_inbox.c.claimed_until == None) | (_inbox.c.claimed_until < now),  # noqa: E711
        )
        .values(claimed_until=until, attempts=_inbox.c.attempts + 1)
        .returning(*_inbox.c)
    )
    rows = list((await session.execute(claimed)).scalars())
    return sorted(rows, key=lambda r: r.id or 0)


async def drop_exhausted(
    *, session: AsyncSession, now: datetime, max_attempts: int, stored_before: datetime
) -> list[InboxEntry]:
    """Give up on deliveries tried `max_attempts` times and stored before `stored_before` (a fault
    no retry mends): returned so the caller can say so."""
    stmt = select(InboxEntry).from_statement(
        update(_inbox)
        .where(
            _inbox.c.status == PENDING,
            _inbox.c.attempts >= max_attempts,
            _inbox.c.created_at < stored_before,
            (_inbox.c.claimed_until == None) | (_inbox.c.claimed_until < now),  # noqa: E711
        )
        .values(status=DROPPED)
        .returning(*_inbox.c)
    )
    return list((await session.execute(stmt)).scalars())


async def pending_count(*, session: AsyncSession) -> int:
    rows = await session.execute(select(col(InboxEntry.id)).where(col(InboxEntry.status) == PENDING))
    return len(rows.all())


async def prune(*, session: AsyncSession, before: datetime) -> int:
    """Forget finished deliveries stored before `before` (their keys stay in inbound_events)."""
    stmt = delete(_inbox).where(_inbox.c.status != PENDING, _inbox.c.created_at < before)
    return rowcount(await session.execute(stmt))
