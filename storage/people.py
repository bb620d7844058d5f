"""Everyone who took part, per platform; the expert flag only ever turns on, and a name learnt once
stays until a new one replaces it (an event that carries only an id says nothing about the name)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Insert, case
from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct
from storage.models import Person
from storage.statements import per_dialect, table, upsert

_people = table(Person)


@per_dialect
def _touch_person(dialect: str) -> Insert:
    stmt = upsert(dialect, _people)
    return stmt.on_conflict_do_update(
        index_elements=["platform", "user_id"],
        set_={
            "last_seen": stmt.excluded.last_seen,
            "name": case((stmt.excluded.name != "", stmt.excluded.name), else_=_people.c.name),
            "is_expert": _people.c.is_expert | stmt.excluded.is_expert,
        },
    )


async def touch_person(
    *, session: AsyncSession, platform: str, user_id: str, name: str, is_expert: bool, now: datetime
) -> None:
    params = {
        "platform": platform,
        "user_id": user_id,
        "name": name,
        "is_expert": is_expert,
        "first_seen": now,
        "last_seen": now,
    }
    await direct.execute(session, _touch_person(session), params)
