"""bot/tasks.py: stopping a helper task swallows the helper's cancellation, never the caller's."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.tasks import stop


async def _forever() -> None:
    await asyncio.Event().wait()


async def _stubborn() -> None:
    """Takes a moment to stop, as a renewal finishing its statement does."""
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.sleep(0.05)


async def test_stopping_a_helper_returns_normally() -> None:
    helper = asyncio.create_task(_forever())
    await asyncio.sleep(0)
    await stop(helper)
    assert helper.cancelled()


async def test_the_callers_own_cancellation_is_not_swallowed() -> None:
    # Before: `with suppress(CancelledError): await helper` ate a Ctrl-C that landed there, and the
    # console went on waiting for a line instead of ending.
    stopped_after = asyncio.Event()

    async def caller() -> None:
        helper = asyncio.create_task(_stubborn())
        await asyncio.sleep(0)
        await stop(helper)
        stopped_after.set()  # reached only if the caller's cancellation was swallowed

    task = asyncio.create_task(caller())
    await asyncio.sleep(0.01)  # the caller is now waiting for the helper to finish stopping
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not stopped_after.is_set()


async def test_suppress_would_have_swallowed_it() -> None:
    """The pattern this replaces, shown failing the same way (a guard that the test above can fail)."""
    reached = asyncio.Event()

    async def caller() -> None:
        helper = asyncio.create_task(_stubborn())
        await asyncio.sleep(0)
        helper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await helper
        reached.set()

    task = asyncio.create_task(caller())
    await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert reached.is_set()
