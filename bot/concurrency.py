"""How many calls an agent may have in flight, learnt from its answers: AIMD with a slow start.

`AdaptiveLimit` is the arithmetic (no clock of its own: every method is given `now`, so tests drive
it with made-up times); `Gate` is the FIFO queue in front of one agent that asks it how many calls
may run, and holds new calls while the provider's `retry-after` runs.

The rule, per agent:
- start at `INITIAL` calls in flight (or `max_concurrency` when that is lower);
- slow start: while no congestion signal has been seen and calls are queueing, double the limit each
  `accept_after` seconds in which no call was refused, and add one per success. Acknowledgements come
  from time, not only from answers: a provider refuses an over-limit call at once, so a call still
  running after `accept_after` has been accepted. Growing per answer only would take a 5 s model
  five round trips (25 s) to go from 16 to 300 calls in flight; this takes about half a second;
- a congestion signal (429, overloaded, 5xx, time-out, lost connection) cuts the limit to
  `BACKOFF` (0.9) times the calls still in flight when it arrives (never below 1) and ends slow
  start. Calls still in flight are what the provider accepted, so a burst refused at once settles
  just under the provider's capacity in one step instead of one cut per round trip;
- after that, additive increase: one more call per limit's worth of successes, only while the limit
  is used (at least half of it in flight) and the call took no more than `LATENCY_TOLERANCE` times
  the running average (a server that queues instead of refusing shows it in latency);
- `retry-after` holds every new call to the agent until it has passed;
- after `QUIET` seconds without a congestion signal, slow start may run again (providers' limits
  move: rate windows refill, capacity is added);
- never above the ceiling: the agent's `max_concurrency` when the config sets it, else
  `DEFAULT_CEILING` (the model SDKs' own connection pools hold 1000 connections).

Why AIMD and not a gradient limiter (Netflix concurrency-limits' Gradient2): a gradient limiter
reads congestion from latency (short-term against long-term round-trip time). A model call's
latency is mostly the length of its answer, which varies tenfold between two calls to the same
model, so latency is a noisy congestion signal here; providers instead say plainly when they are
full (429 with retry-after, 529/503 overloaded). A loss-based controller acts on that clear signal,
its behaviour is easy to bound (TCP Reno's), and latency is still used, but only to stop growth.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

__all__ = ["AdaptiveLimit", "Gate", "Lease", "LimitState", "Outcome"]

INITIAL = 16
DEFAULT_CEILING = 1000
BACKOFF = 0.9  # Netflix's AIMD default: a gentle cut keeps the provider busy between signals
ACCEPT_AFTER = 0.1  # seconds: the shortest slow-start round; it grows with how slowly refusals arrive
MAX_ACCEPT_AFTER = 2.0
LATENCY_TOLERANCE = 2.0
QUIET = 30.0  # seconds without a congestion signal before slow start may run again
_SMOOTHING = 0.1  # weight of a new latency sample in the running average

Outcome = Literal["ok", "congested", "neutral"]  # neutral: refused for its content, or cancelled


class AdaptiveLimit:
    """The limit's arithmetic. `value` is how many calls may be in flight now."""

    def __init__(self, *, ceiling: int | None = None, initial: int = INITIAL, now: float = 0.0) -> None:
        self.explicit = ceiling is not None
        self.ceiling = max(1, ceiling) if ceiling is not None else DEFAULT_CEILING
        self.limit = float(max(1, min(initial, self.ceiling)))
        self.threshold = math.inf  # slow start while the limit is below it
        self.last_grow = now  # the start of the current slow-start round
        self.last_signal = -math.inf
        self.average_latency: float | None = None
        self.refusal_latency: float | None = None
        self.signals = 0  # congestion signals seen, for figures

    @property
    def value(self) -> int:
        return max(1, min(self.ceiling, int(self.limit)))

    @property
    def slow_start(self) -> bool:
        return self.limit < self.threshold and self.value < self.ceiling

    @property
    def accept_after(self) -> float:
        """How long a call must run unrefused to count as accepted: twice the usual time a refusal takes."""
        if self.refusal_latency is None:
            return ACCEPT_AFTER
        return min(MAX_ACCEPT_AFTER, max(ACCEPT_AFTER, 2 * self.refusal_latency))

    def next_round(self) -> float:
        """When the current slow-start round ends (see `on_round`)."""
        return self.last_grow + self.accept_after

    def _set(self, limit: float) -> None:
        self.limit = max(1.0, min(float(self.ceiling), limit))

    def begin_round(self, now: float) -> None:
        """Calls start queueing: a round that ended long ago proves nothing of the calls now in flight."""
        if self.next_round() < now:
            self.last_grow = now

    def on_round(self, now: float, *, in_flight: int, waiting: int) -> bool:
        """Slow start: a round of `accept_after` with calls queueing, the limit full and nothing refused
        (a refusal ends slow start) doubles the limit. True when it grew."""
        if not self.slow_start or waiting == 0:
            return False
        if in_flight < self.value:  # held by a pause, not by the limit: the round proves nothing
            self.last_grow = now
            return False
        if now < self.next_round():
            return False
        self._set(self.limit * 2)
        self.last_grow = now
        return True

    def on_success(self, now: float, *, in_flight: int, latency: float) -> None:
        """A call answered; `in_flight` counts it. Grows the limit while it is used and latency holds."""
        average = self.average_latency
        slow = average is not None and latency > LATENCY_TOLERANCE * average
        self.average_latency = latency if average is None else average + _SMOOTHING * (latency - average)
        if self.threshold < math.inf and now - self.last_signal >= QUIET:
            self.threshold = math.inf  # quiet for long enough: probe quickly again
            self.last_grow = now
        if slow or in_flight * 2 < self.value:
            # slower than usual: the server may be queueing; half the limit unused: growing it proves nothing.
            # Latency never cuts the limit (a long answer is slow by nature), it only withholds growth.
            return
        if self.slow_start:
            self._set(self.limit + 1)
        else:
            self._set(self.limit + 1 / self.limit)

    def on_congestion(self, now: float, *, in_flight: int, latency: float) -> None:
        """A call was refused or failed for load; `in_flight` counts the calls still running without it."""
        self.signals += 1
        self.last_signal = now
        refusal = self.refusal_latency
        self.refusal_latency = latency if refusal is None else refusal + _SMOOTHING * (latency - refusal)
        self._set(min(self.limit, BACKOFF * in_flight))
        self.threshold = self.limit


@dataclass(frozen=True)
class LimitState:
    """What `draftloop agents` and the figures show of one agent's limit."""

    ceiling: int | None  # the config's max_concurrency, None when not set
    limit: int
    in_flight: int
    waiting: int
    signals: int

    def __str__(self) -> str:
        if self.ceiling is None:
            return "adaptive concurrency"
        return f"adaptive concurrency, at most {self.ceiling} in flight"


@dataclass
class Lease:
    """One admitted call; give it back with `Gate.done`."""

    started: float
    returned: bool = False


class Gate:
    """The calls in flight for one agent: first come, first served, within the adaptive limit.

    New calls wait in arrival order. A retry waits in a queue of its own that goes first, and is not
    held by a retry-after pause: it has already waited out its own back-off or retry-after.
    """

    def __init__(self, limit: AdaptiveLimit) -> None:
        self.limit = limit
        self.in_flight = 0
        self.paused_until = -math.inf
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._retries: deque[asyncio.Future[None]] = deque()
        self._round: asyncio.TimerHandle | None = None
        self._resume: asyncio.TimerHandle | None = None

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def paused_for(self) -> float:
        """Seconds until new calls may go again (0 when not paused)."""
        return max(0.0, self.paused_until - self._now())

    def state(self) -> LimitState:
        ceiling = self.limit.ceiling if self.limit.explicit else None
        waiting = len(self._waiters) + len(self._retries)
        return LimitState(ceiling, self.limit.value, self.in_flight, waiting, self.limit.signals)

    async def acquire(self, *, retry: bool = False) -> Lease:
        queue = self._retries if retry else self._waiters
        if not queue and self._may_start(retry) and (retry or not self._retries):
            return self._admit_now()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(future)
        self._schedule()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.done(Lease(self._now()), "neutral")  # the slot came as the caller gave up: give it on
            else:
                queue.remove(future)
            raise
        return Lease(self._now())

    def done(self, lease: Lease, outcome: Outcome, *, retry_after: float | None = None) -> None:
        """A call ended. `ok` and `congested` teach the limit; `neutral` (refused for its content,
        cancelled) only frees the slot. `retry_after` holds new calls that long."""
        if lease.returned:
            return
        lease.returned = True
        now = self._now()
        latency = now - lease.started
        if outcome == "ok":
            self.limit.on_success(now, in_flight=self.in_flight, latency=latency)
        self.in_flight -= 1
        if outcome == "congested":
            self.limit.on_congestion(now, in_flight=self.in_flight, latency=latency)
        if retry_after is not None and retry_after > 0:
            self.paused_until = max(self.paused_until, now + retry_after)
        self._wake()

    def close(self) -> None:
        """Cancel the timers (the pool is closing); waiters stay for their callers to cancel."""
        for handle in (self._round, self._resume):
            if handle is not None:
                handle.cancel()
        self._round = self._resume = None

    # -- the queue ---------------------------------------------------------------------------------

    def _may_start(self, retry: bool) -> bool:
        return self.in_flight < self.limit.value and (retry or self._now() >= self.paused_until)

    def _admit_now(self) -> Lease:
        self.in_flight += 1
        return Lease(self._now())

    def _wake(self) -> None:
        for queue, retry in ((self._retries, True), (self._waiters, False)):
            while queue and self._may_start(retry):
                future = queue.popleft()
                if future.done():  # cancelled while waiting
                    continue
                self.in_flight += 1
                future.set_result(None)
        self._schedule()

    def _schedule(self) -> None:
        """Timers for what can free a waiter without a call ending: the end of a pause, a slow-start round."""
        if not (self._waiters or self._retries):
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._waiters and self.paused_until > now and self._resume is None:
            self._resume = loop.call_at(self.paused_until, self._on_resume)
        if self.limit.slow_start and self._round is None:
            self.limit.begin_round(now)
            self._round = loop.call_at(self.limit.next_round(), self._on_round)

    def _on_resume(self) -> None:
        self._resume = None
        self._wake()

    def _on_round(self) -> None:
        self._round = None
        waiting = len(self._waiters) + len(self._retries)
        if self.limit.on_round(self._now(), in_flight=self.in_flight, waiting=waiting):
            self._wake()
        else:
            self._schedule()
