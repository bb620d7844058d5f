"""Tables, queries and migrations: the only package that writes to the database.

The core annotates sessions with `storage.Session` and configures the state names storage needs
with `storage.StateSets`, so it never imports SQLAlchemy itself.

`Database` and `Session` are loaded on first use (PEP 562): importing any storage module, such as
storage.urls for the settings or storage.metrics for a one-shot digest, then costs no SQLAlchemy
engine, ORM or async machinery (benchmarks/bench_startup.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage.state_sets import StateSets

if TYPE_CHECKING:
    from storage.engine import Database, Session

__all__ = ["Database", "Session", "StateSets"]


def __getattr__(name: str) -> Any:
    if name in ("Database", "Session"):
        from storage import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
