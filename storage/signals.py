"""One-tap feedback (👍 / 👎 per version and person), a reject's reason, and what waits on one person.

Signals are light: one row per project, version and person (`uq_signals`), so a second tap replaces
the first, and nothing in them is feedback or a decision. The reason and comment of a reject live on
its decision row. `waiting_on` is the list behind `mine` (a person's drafts to decide, the threads
that wait on them as an expert, their open requests). The digest reads the counts here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.engine import states_of
from storage.models import Decision, Project, Signal
from storage.statements import per_dialect, rowcount, table, upsert

_signals = table(Signal)
_decisions = table(Decision)


@per_dialect
def _upsert_signal(dialect: str) -> Any:
    stmt = upsert(dialect, _signals)
    return stmt.on_conflict_do_update(
        index_elements=["project_id", "version", "person_id"],
        set_={
            "value": stmt.excluded.value,
            "person_name": stmt.excluded.person_name,
            "via": stmt.excluded.via,
            "updated_at": stmt.excluded.updated_at,
        },
    )


async def give_signal(
    *,
    session: AsyncSession,
    project_id: int,
    version: int,
    person_id: str,
    person_name: str = "",
    value: str,
    via: str = "button",
    now: datetime,
) -> None:
    """Store one person's 👍 / 👎 on one version; a later tap by the same person replaces it."""
    values = {
        "project_id": project_id,
        "version": version,
        "person_id": person_id,
        "person_name": person_name,
        "value": value,
        "via": via,
        "created_at": now,
        "updated_at": now,
    }
    await session.execute(_upsert_signal(session), values)


async def signal_of(*, session: AsyncSession, project_id: int, version: int, person_id: str) -> str | None:
    """The value one person gave one version, if any."""
    stmt = select(col(Signal.value)).where(
        col(Signal.project_id) == project_id, col(Signal.version) == version, col(Signal.person_id) == person_id
    )
    value = (await session.execute(stmt)).scalar_one_or_none()
    return None if value is None else str(value)


_set_reason = (
    update(_decisions)
    .where(_decisions.c.id == bindparam("decision"))
    .values(reason=bindparam("reason"), comment=bindparam("comment"))
)


async def set_decision_reason(
    *, session: AsyncSession, decision_id: int, reason: str | None, comment: str | None
) -> bool:
    """Record why a decision was made (a reject's reason, the decider's comment) on its row."""
    params = {"decision": decision_id, "reason": reason, "comment": comment}
    return bool(rowcount(await session.execute(_set_reason, params)))


async def waiting_on(
    *, session: AsyncSession, platform: str, person_id: str, expert_of: Sequence[str], limit: int = 50
) -> list[Project]:
    """Open projects on `platform` that wait on one person, oldest first: the ones they requested
    (any open state) and, in the categories they are an expert of, those in review."""
    states = states_of(session)
    mine = col(Project.requester_id) == person_id
    expert = (col(Project.state) == states.review) & col(Project.category).in_(sorted(set(expert_of)))
    stmt = (
        select(Project)
        .where(
            col(Project.platform) == platform,
            col(Project.state).in_(sorted(states.open)),
            or_(mine, expert) if expert_of else mine,
        )
        .order_by(col(Project.id))
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
