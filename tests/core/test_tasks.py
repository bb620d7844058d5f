"""bot/tasks.py: stopping a helper task swallows the helper's cancellation, never the caller's; renewing
something while a block runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import pytest

from bot.tasks import renewing, stop


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


async def test_a_block_shorter_than_the_interval_renews_nothing_and_leaves_no_task() -> None:
    renewals: list[float] = []

    async def renew() -> None:
        renewals.append(time.monotonic())

    before = len(asyncio.all_tasks())
    async with renewing(0.05, renew, "a claim"):
        assert len(asyncio.all_tasks()) == before  # a timer, not a task, until the first renewal
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert renewals == []


async def test_a_long_block_renews_every_interval_until_it_ends() -> None:
    renewals: list[float] = []

    async def renew() -> None:
        renewals.append(time.monotonic())

    start = time.monotonic()
    async with renewing(0.05, renew, "a lease"):
        await asyncio.sleep(0.18)
    ended = len(renewals)
    await asyncio.sleep(0.1)
    assert len(renewals) == ended, "no renewal after the block"
    assert 2 <= ended <= 4
    assert renewals[0] - start >= 0.045  # the first is due one interval in, not at once
    gaps = [b - a for a, b in zip(renewals, renewals[1:], strict=False)]
    assert all(gap >= 0.045 for gap in gaps)


async def test_a_failed_renewal_is_logged_and_the_next_tried(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    async def renew() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database blinked")

    with caplog.at_level(logging.WARNING, logger="bot.tasks"):
        async with renewing(0.03, renew, "the lease of project 7"):
            await asyncio.sleep(0.1)
    assert calls >= 2
    assert "could not renew the lease of project 7: ConnectionError" in caplog.text
