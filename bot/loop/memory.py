"""What this process remembers so that it need not ask the database: event keys it has seen,
and people it has recorded. Both are bounded; the database always has the final word."""

from __future__ import annotations

from bot.events import Actor
from bot.permissions import is_expert
from bot.ports import Clock
from bot.recent import RecentKeys
from bot.settings import Settings
from storage import Session, projects as store

RECENT_KEYS = 10_000  # event keys this process remembers, so a redelivery starts no model call
PEOPLE = 10_000  # people whose record this process knows to be current


class RecentEvents:
    """Event keys this process saw lately, per platform (bot/recent.py bounds the memory)."""

    def __init__(self, limit: int = RECENT_KEYS) -> None:
        self._keys: RecentKeys[tuple[str, str]] = RecentKeys(limit)

    def saw(self, platform: str, key: str | None) -> bool:
        """Whether this key was seen before; it is remembered from now on."""
        if not key:
            return False
        return not self._keys.first_time((platform, key))


class People:
    """Records who took part (name, expert or not), once per person per process: `last_seen` is
    coarse, and one upsert per step would cost every step a statement."""

    def __init__(self, *, settings: Settings, clock: Clock, limit: int = PEOPLE) -> None:
        self.settings = settings
        self.clock = clock
        self.limit = limit
        self._known: dict[tuple[str, str], tuple[str, bool]] = {}

    async def touch(self, session: Session, actor: Actor, category: str) -> None:
        # The name, never the id in its place: the store keeps a known name when an event brings none.
        expert = is_expert(actor, category, self.settings)
        key = (actor.platform, actor.user_id)
        known = self._known.get(key)
        if known is not None and known[1] == expert and actor.name in ("", known[0]):
            return
        if len(self._known) > self.limit:
            self._known.clear()
        self._known[key] = (actor.name or (known[0] if known else ""), expert)
        await store.touch_person(
            session=session,
            platform=actor.platform,
            user_id=actor.user_id,
            name=actor.name,
            is_expert=expert,
            now=self.clock.now(),
        )

    def forget(self, actor: Actor) -> None:
        """The transaction that recorded `actor` failed: record them again next time."""
        self._known.pop((actor.platform, actor.user_id), None)
