"""Stopping a helper task without swallowing the caller's own cancellation."""

from __future__ import annotations

import asyncio
from typing import Any


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
