from __future__ import annotations

from typing import Any


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE; SQLAlchemy's typing leaves `rowcount` off the generic Result."""
    return int(result.rowcount)
