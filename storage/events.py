"""Inbound event keys: a platform's redelivery of an event finds its key and is dropped."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboundEvent
from storage.statements import per_dialect, rowcount, table, upsert

_events = table(InboundEvent)


@per_dialect
def _seen_event(dialect: str) -> Insert:
    return upsert(dialect, _events).on_conflict_do_nothing(index_elements=["platform", "key"])


async def seen_event(*, session: AsyncSession, platform: str, key: str, now: datetime) -> bool:
    """Record an inbound event key; True when it was recorded before (a redelivery).

    Recorded in the caller's transaction: when the event's effect fails and rolls back, the key
    goes with it and the platform's retry is handled as new."""
    params = {"platform": platform, "key": key[:255], "created_at": now}
    return rowcount(await session.execute(_seen_event(session), params)) == 0
