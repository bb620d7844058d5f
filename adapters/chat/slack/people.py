"""Who a Slack user is, beyond the id an event carries.

- Their name (`users.info`, scope `users:read`): texts name people by name, never by `<@U…>`, because
  every user mention notifies in Slack (there is no allowed_mentions), so a decision notice would ping
  the decider and a weekly digest every expert.
- The user groups named in the config (S… ids in `admins`, `experts`, `expert_roles`,
  `[slack].admins`): an actor's groups go in `actor.roles`, where permissions match them by id.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any

from adapters.chat.slack.platform import SlackPlatform
from adapters.chat.slack.policy import SLACK, is_group_id
from bot.identity import entry_id
from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_NAME = 100  # Slack caps display and real names at 80 characters; the stores keep 200


class UserNames:
    """User id → the name Slack shows for them, cached for `ttl` seconds (a failed lookup for
    `failed_ttl`, so an outage costs one call per person, not one per event).

    One lookup per person at a time: a burst of events from one person makes one call. A caller waits
    at most `wait` seconds, since a name is not worth holding up a draft; a slow lookup still fills
    the cache for the next event.
    """

    def __init__(
        self,
        platform: SlackPlatform,
        *,
        ttl: float = 3600.0,
        failed_ttl: float = 60.0,
        wait: float = 3.0,
        limit: int = 10_000,
    ) -> None:
        self.platform = platform
        self.ttl = ttl
        self.failed_ttl = failed_ttl
        self.wait = wait
        self.limit = limit
        self._cache: dict[str, tuple[float, str, bool]] = {}  # user id → (when, name, found)
        self._pending: dict[str, asyncio.Task[str]] = {}

    async def of(self, user_id: str) -> str:
        """Their name, or "" when Slack did not say (the caller then shows the id)."""
        cached = self._cache.get(user_id)
        if cached and time.monotonic() - cached[0] < (self.ttl if cached[2] else self.failed_ttl):
            return cached[1]
        stale = cached[1] if cached else ""
        task = self._pending.get(user_id)
        if task is None:
            task = asyncio.create_task(self._lookup(user_id, stale))
            self._pending[user_id] = task
            task.add_done_callback(lambda _: self._pending.pop(user_id, None))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.wait)
        except TimeoutError:
            return stale

    async def _lookup(self, user_id: str, stale: str) -> str:
        try:
            resp = await self.platform.client.users_info(user=user_id)
            name, found = name_of(resp.get("user") or {}), True
        except Exception as exc:  # noqa: BLE001 - a lookup failure only means "shown by id"
            log.warning("slack: users.info %s failed: %s", user_id, type(exc).__name__)
            name, found = stale, False
        if len(self._cache) >= self.limit:
            self._cache.clear()
        self._cache[user_id] = (time.monotonic(), name, found)
        return name


def name_of(user: dict[str, Any]) -> str:
    """The name Slack shows for a `users.info` user: display name, else real name, else username."""
    profile = user.get("profile") or {}
    for value in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"), user.get("name")):
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:MAX_NAME]
    return ""


_names: weakref.WeakKeyDictionary[SlackPlatform, UserNames] = weakref.WeakKeyDictionary()


def names(platform: SlackPlatform) -> UserNames:
    """The one name cache of a Slack client: every listener of the workspace shares it."""
    found = _names.get(platform)
    if found is None:
        found = _names[platform] = UserNames(platform)
    return found


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
