"""Slack user groups named in the config (S… ids in `admins`, `experts`, `expert_roles`, `[slack].admins`):
an actor's groups go in `actor.roles`, where permissions match them by id."""

from __future__ import annotations

import logging
import time

from adapters.chat.slack.platform import SlackPlatform
from adapters.chat.slack.policy import SLACK, is_group_id
from bot.identity import entry_id
from bot.settings import Settings

log = logging.getLogger(__name__)


class UserGroups:
    """The configured groups → their members, cached for `ttl` seconds."""

    def __init__(self, platform: SlackPlatform, groups: set[str], ttl: float = 300.0) -> None:
        self.platform = platform
        self.groups = groups
        self.ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def of(self, user_id: str) -> frozenset[str]:
        found = set()
        for group in self.groups:
            members = await self._members(group)
            if user_id in members:
                found.add(group)
        return frozenset(found)

    async def _members(self, group: str) -> frozenset[str]:
        now = time.monotonic()
        cached = self._cache.get(group)
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        try:
            resp = await self.platform.client.usergroups_users_list(usergroup=group)
            members = frozenset(resp.get("users") or ())
        except Exception as exc:  # noqa: BLE001 - a lookup failure only means "no group roles"
            log.warning("slack: usergroups.users.list %s failed: %s", group, type(exc).__name__)
            members = cached[1] if cached else frozenset()
        self._cache[group] = (now, members)
        return members


def configured_groups(settings: Settings) -> set[str]:
    """Slack user groups (S… ids) the config names as experts or admins: their members are looked up."""
    cfg = settings.file
    entries = [*cfg.admins, *SLACK.admins_in(cfg)]
    for cat in cfg.categories.values():
        entries += [*cat.experts, *cat.expert_roles]
    return {entry_id(e) for e in entries if is_group_id(e)}
