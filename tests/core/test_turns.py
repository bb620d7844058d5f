"""Turns: at most `width` holders, and a free turn goes to the lowest ticket waiting, not the first to ask."""

from __future__ import annotations

import asyncio

from bot.loop.turns import Turns


async def _hold(turns: Turns, ticket: int, order: list[int], release: asyncio.Event) -> None:
    async with turns.turn(ticket):
        order.append(ticket)
        await release.wait()


async def test_the_earliest_ticket_is_served_first_whoever_asked_first() -> None:
    turns = Turns(1)
    first, second, third = turns.ticket(), turns.ticket(), turns.ticket()
    order: list[int] = []
    gate = asyncio.Event()
    holder = asyncio.create_task(_hold(turns, first, order, gate))
    await asyncio.sleep(0)
    # The later ticket asks first; the earlier one must still go before it.
    late = asyncio.create_task(_hold(turns, third, order, gate))
    await asyncio.sleep(0)
    early = asyncio.create_task(_hold(turns, second, order, gate))
    await asyncio.sleep(0)
    assert order == [first] and turns.held == 1
    gate.set()
    await asyncio.gather(holder, late, early)
    assert order == [first, second, third]
    assert turns.held == 0


async def test_no_more_than_width_hold_a_turn_at_once() -> None:
    turns = Turns(3)
    inside = peak = 0

    async def work() -> None:
        nonlocal inside, peak
        async with turns.turn(turns.ticket()):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.001)
            inside -= 1

    await asyncio.gather(*(work() for _ in range(20)))
    assert peak == 3 and turns.held == 0


Line = tuple[Turns, list[int], asyncio.Event, list["asyncio.Task[None]"], tuple[int, int, int]]


async def _one_holding_two_waiting() -> Line:
    """A single turn: the first ticket holds it until the gate opens, the next two wait in line."""
    turns = Turns(1)
    order: list[int] = []
    gate = asyncio.Event()
    a, b, c = turns.ticket(), turns.ticket(), turns.ticket()
    holder = asyncio.create_task(_hold(turns, a, order, gate))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(_hold(turns, t, order, gate)) for t in (b, c)]
    await asyncio.sleep(0)
    return turns, order, gate, [holder, *waiters], (a, b, c)


async def test_a_cancelled_waiter_does_not_keep_a_turn() -> None:
    turns, order, gate, (holder, gone, waiting), (a, _, c) = await _one_holding_two_waiting()
    gone.cancel()
    gate.set()
    await asyncio.gather(holder, waiting)
    assert gone.cancelled() and order == [a, c] and turns.held == 0


async def test_a_waiter_cancelled_as_its_turn_comes_passes_it_on() -> None:
    turns, order, gate, (holder, unlucky, waiting), (a, _, c) = await _one_holding_two_waiting()
    gate.set()
    await asyncio.sleep(0)  # `a` leaves and hands its turn to `b`, which has not run yet
    assert holder.done() and order == [a]
    unlucky.cancel()
    await asyncio.gather(holder, waiting)
    assert unlucky.cancelled() and order == [a, c] and turns.held == 0
