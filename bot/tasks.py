"""Helper tasks: stopping one without swallowing the caller's own cancellation, and renewing
something while a block of work runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

_log = logging.getLogger(__name__)


async def stop(task: asyncio.Task[Any]) -> None:
    """Cancel a helper task and wait for it. Its CancelledError is swallowed, but not the caller's:
    were the caller cancelled meanwhile (Ctrl-C, SIGTERM), swallowing that would leave it running as
    if nothing had asked it to stop."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


@contextlib.asynccontextmanager
async def renewing(every: float, renew: Callable[[], Awaitable[None]], what: str) -> AsyncIterator[None]:
    """Run `renew()` every `every` seconds until the block ends (a lease, a claim kept alive while
    work runs). A failed renewal is logged and the next one tried: the thing renewed has time left."""

    async def forever() -> None:
        while True:
            try:
                await renew()
            except Exception as exc:  # noqa: BLE001
                _log.warning("could not renew %s: %s", what, type(exc).__name__)
            await asyncio.sleep(every)

    # Most blocks end long before the first renewal is due (every event holds its claim this way):
    # a timer until then costs a fraction of a task made, cancelled and awaited per block.
    loop = asyncio.get_running_loop()
    task: asyncio.Task[None] | None = None

    def start() -> None:
        nonlocal task
        task = loop.create_task(forever())

    timer = loop.call_later(every, start)
    try:
        yield
    finally:
        timer.cancel()
        if task is not None:
            await stop(task)
