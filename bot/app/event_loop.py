"""The event loop the long-running commands (`serve`, `worker`) run on.

uvloop (libuv, in C) makes each turn of the loop and each socket read and write cheaper than
asyncio's selector loop in Python. Measured side by side on PostgreSQL: the core's CPU per step
4.2-4.3 ms against 4.6-4.9 ms (bench_core, 1,000 projects), the Discord worker's CPU per reply 7.05
against 7.65 ms (bench_discord); on SQLite, where a step makes few turns of the loop, no difference
beyond the noise (bench_slack, bench_socket). So `auto` takes uvloop when it is
installed (it is a dependency wherever it builds: not on Windows) and asyncio otherwise; `asyncio`
keeps the standard loop, which the test suite also runs on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.errors import ConfigError


class LoopUnavailable(ConfigError):
    """DRAFTLOOP_EVENT_LOOP asks for a loop this installation lacks: reported as any configuration error."""


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory `asyncio.Runner` builds its loop with for `choice`; None for asyncio's own."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise LoopUnavailable(
                "DRAFTLOOP_EVENT_LOOP=uvloop: uvloop is not installed here (pip install uvloop, on Linux or "
                "macOS); auto, the default, uses it when it is and asyncio otherwise"
            ) from None
        return None
    return uvloop.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """`uvloop` or `asyncio`: what a running loop is, for logs and benchmark headers."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
