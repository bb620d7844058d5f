"""A bounded memory of recently seen keys: event keys a process has handled, ids it has met.

The database is the real guard against redelivery (table `inbound_events`); this only spares it the
common case, and lets an adapter remember ids it made (Discord threads) without growing forever.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class RecentKeys(Generic[K]):
    """The last `size` keys seen, oldest forgotten first; a key seen again counts as recent again."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._keys: OrderedDict[K, None] = OrderedDict()

    def first_time(self, key: K) -> bool:
        """Remember `key`; whether it was new."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self.add(key)
        return True

    def add(self, key: K) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        if len(self._keys) > self.size:
            self._keys.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)
