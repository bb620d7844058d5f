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
            await asyncio.sleep(every)
            try:
                await renew()
            except Exception as exc:  # noqa: BLE001
                _log.warning("could not renew %s: %s", what, type(exc).__name__)

    task = asyncio.create_task(forever())
    try:
        yield
    finally:
        await stop(task)
