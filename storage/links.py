"""Which project a platform message belongs to, so a reply or a reaction on it finds the project."""

from __future__ import annotations

from sqlalchemy import Insert, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import direct, entities
from storage.models import MessageLink, Project
from storage.statements import inline, per_dialect, rowcount, table, upsert

_links = table(MessageLink)
_projects = table(Project)


@per_dialect
def _link_message(dialect: str) -> Insert:
    return upsert(dialect, _links).on_conflict_do_nothing(index_elements=["platform", "channel", "message_id"])


async def link_message(
    *, session: AsyncSession, platform: str, channel: str, message_id: str, project_id: int, kind: str, version: int = 0
) -> bool:
    """Remember which project a message belongs to; an edited message keeps its first link. False
    when the message was linked already (to this project or another), and nothing was written."""
    params = {
        "platform": platform,
        "channel": channel,
        "message_id": message_id,
        "project_id": project_id,
        "kind": kind,
        "version": version,
    }
    return rowcount(await direct.execute(session, _link_message(session), params)) == 1


_find_by_message = inline(
    select(_projects)
    .join(_links, _links.c.project_id == _projects.c.id)
    .where(
        _links.c.platform == bindparam("platform"),
        _links.c.channel == bindparam("channel"),
        _links.c.message_id == bindparam("message_id"),
    )
)


async def find_by_message(*, session: AsyncSession, platform: str, channel: str, message_id: str) -> Project | None:
    params = {"platform": platform, "channel": channel, "message_id": message_id}
    return await entities.one_of(session, Project, _find_by_message, params)


_project_of_message = inline(
    select(col(MessageLink.project_id)).where(
        col(MessageLink.platform) == bindparam("platform"),
        col(MessageLink.channel) == bindparam("channel"),
        col(MessageLink.message_id) == bindparam("message_id"),
    )
)


async def project_of_message(*, session: AsyncSession, platform: str, channel: str, message_id: str) -> int | None:
    """The number of the project a message belongs to, without loading the project."""
    params = {"platform": platform, "channel": channel, "message_id": message_id}
    found = (await session.execute(_project_of_message, params)).scalar_one_or_none()
    return None if found is None else int(found)
