"""The agent pool: turns agent names into backends (providers from bot/agent_registry.py), limits calls
in flight per agent (adaptively: bot/concurrency.py), retries what is worth retrying, falls back to the
next agent, and prices the result.

`register_backend(name, factory)` adds a provider (re-exported from bot/agent_registry.py);
`AgentPool.use(agent, backend)` makes one pool draft with a given backend for one agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, cast

from bot import agent_registry
from bot.agent_registry import register_backend, unregister_backend
from bot.agent_spec import AgentSpec
from bot.concurrency import AdaptiveLimit, Gate, LimitState, Outcome
from bot.errors import (
    AgentError,
    AgentRateLimited,
    AgentRejected,
    AgentUnavailable,
    ConfigError,
    DraftloopError,
)
from bot.ports import AgentBackend, DraftRequest, DraftResult
from bot.settings import Settings
from bot.triage import default_agent_name, resolve_spec

__all__ = [
    "AgentCheck",
    "AgentFacts",
    "AgentPool",
    "LimitState",
    "ceiling_of",
    "cost_usd",
    "register_backend",
    "unregister_backend",
]

_log = logging.getLogger(__name__)

MAX_BACKOFF = 8.0
MAX_RETRY_WAIT = 60.0  # a provider asking for a longer pause sends the draft to the fallback

Progress = Callable[[str], Awaitable[None]]


class AgentFactory(Protocol):
    def __call__(self, spec: AgentSpec, settings: Settings) -> AgentBackend: ...


def load_factory(provider: str) -> AgentFactory:
    """The provider's factory; ConfigError when no such provider is known or it cannot be imported."""
    return cast(AgentFactory, agent_registry.factory(provider))


def cost_usd(spec: AgentSpec, result: DraftResult) -> float:
    """Cached input tokens are billed at the cached price, the rest at the input price."""
    uncached = max(0, result.input_tokens - result.cached_tokens)
    return (
        uncached * spec.price_input
        + result.cached_tokens * spec.price_cached
        + result.output_tokens * spec.price_output
    ) / 1_000_000


def ceiling_of(spec: AgentSpec) -> int | None:
    """The agent's hard ceiling on calls in flight: `max_concurrency` when the config sets it, else None
    (adaptive up to bot.concurrency.DEFAULT_CEILING). A default value never counts as a ceiling."""
    if "max_concurrency" not in spec.model_fields_set:
        return None
    value: int | None = spec.max_concurrency
    return value


@dataclass(frozen=True)
class AgentFacts:
    """What a backend says of itself (an optional `facts()` method): where it calls, which key it reads."""

    endpoint: str  # a URL, or "built in"
    key_env: str = ""  # "" when it needs no key
    key_set: bool = False


@dataclass(frozen=True)
class AgentCheck:
    """One line of `draftloop agents`: where an agent is used and whether it can be called."""

    name: str
    provider: str
    model: str
    roles: tuple[str, ...]
    status: str
    facts: AgentFacts | None = None  # None when the agent cannot be built
    spec: AgentSpec | None = None
    concurrency: LimitState | None = None  # str(): "adaptive concurrency[, at most N in flight]"

    @property
    def ok(self) -> bool:
        return self.status.startswith("ok")


class AgentPool:
    """Backends by agent name, each behind its own FIFO gate whose limit of calls in flight adapts
    (bot/concurrency.py): it grows while calls succeed, is cut by a 429, an overload, a 5xx, a time-out
    or a lost connection, and holds new calls while a provider's retry-after runs.

    `draft` tries each agent of the route in turn: AgentUnavailable and AgentRateLimited are retried
    on the same agent (`max_retries` times, back-off 0.5 s·2^n with jitter, or the provider's
    retry-after), any other AgentError or a retry-after above MAX_RETRY_WAIT moves on to the next
    agent, and when all fail the last error propagates (the workflow marks the project failed).
    A retry goes ahead of new calls in the agent's queue.
    """

    def __init__(self, settings: Settings, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.settings = settings
        self._backends: dict[str, AgentBackend] = {}
        self._gates: dict[str, Gate] = {}
        self.sleep = sleep  # replaceable: tests record back-off instead of waiting

    def spec(self, name: str) -> AgentSpec:
        return resolve_spec(name, self.settings)

    def backend(self, spec: AgentSpec) -> AgentBackend:
        backend = self._backends.get(spec.name)
        if backend is None:
            backend = load_factory(spec.provider)(spec, self.settings)
            self._backends[spec.name] = backend
        return backend

    def use(self, name: str, backend: AgentBackend) -> None:
        """Draft with `backend` for the agent `name` from now on (tests, embedding). The pool closes it."""
        self._backends[name] = backend

    def facts(self, spec: AgentSpec) -> AgentFacts:
        """Ask the backend; one that does not say is shown with its config's endpoint and key variable."""
        backend = self.backend(spec)
        describe = getattr(backend, "facts", None)
        if describe is not None:
            return cast(AgentFacts, describe())
        key_env = spec.key_env or ""
        key_set = bool(key_env and self.settings.env(key_env))
        return AgentFacts(spec.base_url or f"{spec.provider} default", key_env, key_set)

    def _gate(self, spec: AgentSpec) -> Gate:
        gate = self._gates.get(spec.name)
        if gate is None:
            gate = self._gates[spec.name] = Gate(AdaptiveLimit(ceiling=ceiling_of(spec)))
        return gate

    def limit_of(self, spec: AgentSpec) -> LimitState:
        """The agent's limit of calls in flight as it stands (its starting value before any call)."""
        gate = self._gates.get(spec.name)
        if gate is not None:
            return gate.state()
        limit = AdaptiveLimit(ceiling=ceiling_of(spec))
        return LimitState(ceiling_of(spec), limit.value, 0, 0, 0)

    async def _once(
        self, spec: AgentSpec, request: DraftRequest, progress: Progress | None, *, retry: bool = False
    ) -> DraftResult:
        backend = self.backend(spec)
        gate = self._gate(spec)
        paused = gate.paused_for()
        if not retry and paused > MAX_RETRY_WAIT:
            raise AgentRateLimited(
                f"agent {spec.name}: the provider asked to wait {paused:.0f}s more", agent=spec.name, retry_after=paused
            )
        text = ""
        lease = await gate.acquire(retry=retry)
        outcome: Outcome = "neutral"
        retry_after: float | None = None
        try:
            # Closed on the way out: returning at the result would leave the generator (and the
            # ones it iterates) to the garbage collector, whose finalizer closes each in a task.
            async with contextlib.aclosing(backend.stream(request)) as items:
                async for item in items:
                    if isinstance(item, DraftResult):
                        if not item.text.strip():
                            raise AgentRejected(f"agent {spec.name} returned an empty answer", agent=spec.name)
                        outcome = "ok"
                        return item
                    text += item
                    if progress is not None:
                        try:
                            await progress(text)
                        except Exception as exc:  # showing progress is best effort; the draft goes on
                            _log.warning(
                                "progress update for agent %s failed, streaming display off: %s", spec.name, exc
                            )
                            progress = None
        except (AgentRateLimited, AgentUnavailable) as exc:
            outcome, retry_after = "congested", exc.retry_after
            raise
        finally:
            gate.done(lease, outcome, retry_after=retry_after)
        raise AgentUnavailable(f"agent {spec.name}: the stream ended without a result", agent=spec.name)

    def _delay(self, exc: AgentError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt on the same agent; None: go to the next agent."""
        if exc.retry_after is not None:
            return None if exc.retry_after > MAX_RETRY_WAIT else max(0.0, exc.retry_after)
        return min(MAX_BACKOFF, 0.5 * 2.0**attempt) * (1 - 0.25 * random.random())

    async def draft(
        self, *, agents: list[str], request: DraftRequest, progress: Progress | None = None
    ) -> tuple[DraftResult, AgentSpec]:
        """Run the first agent that succeeds; raise the last error when all fail."""
        last: AgentError | None = None
        for name in dict.fromkeys(agents):  # a fallback equal to the primary is tried once
            spec = self.spec(name)
            for attempt in range(spec.max_retries + 1):
                try:
                    return await self._once(spec, request, progress, retry=attempt > 0), spec
                except AgentError as exc:
                    last = exc
                    final = not exc.retryable or attempt == spec.max_retries
                    # a 429 about to be retried is the adaptive limit finding the provider's capacity: routine
                    level = logging.INFO if isinstance(exc, AgentRateLimited) and not final else logging.WARNING
                    _log.log(level, "agent %s attempt %d failed: %s", spec.name, attempt + 1, exc)
                    if final:
                        break
                    delay = self._delay(exc, attempt)
                    if delay is None:
                        _log.warning("agent %s asks to wait %.0fs; trying the next agent", spec.name, exc.retry_after)
                        break
                    await self.sleep(delay)
        if last is None:
            raise ConfigError("no agent to draft with")
        raise last

    async def complete(self, name: str, request: DraftRequest, *, timeout: float) -> DraftResult:
        """One short call (triage): the agent's limit applies, no retries, no fallback, bounded time."""
        spec = self.spec(name)
        try:
            return await asyncio.wait_for(self._once(spec, request, None), timeout)
        except TimeoutError as exc:
            raise AgentUnavailable(f"agent {spec.name}: no answer within {timeout:g}s", agent=spec.name) from exc

    # -- `draftloop agents` ------------------------------------------------------------------------

    def routes(self) -> dict[str, tuple[str, ...]]:
        """Every agent the configuration can reach, with where it is used."""
        roles: dict[str, list[str]] = {}
        default = default_agent_name(self.settings)
        roles.setdefault(default, []).append("default")
        file = self.settings.file
        if file.triage_agent:
            roles.setdefault(file.triage_agent, []).append("triage")
        for category, cfg in file.categories.items():
            if cfg.agent:
                roles.setdefault(cfg.agent, []).append(f"{category}")
            for fallback in cfg.fallback:
                roles.setdefault(fallback, []).append(f"{category} fallback")
        for name in file.agents:
            roles.setdefault(name, [])
        return {name: tuple(r) for name, r in roles.items()}

    def prepare(self) -> None:
        """Build the backend of every agent the configuration reaches (no call leaves the process).
        A long-running process does this at start, so its first draft does not also pay for
        importing an SDK and building its client; an agent that cannot be built says why when it
        is used, as before."""
        for name in self.routes():
            try:
                self.backend(self.spec(name))
            except Exception as exc:  # noqa: BLE001 - reported where it matters: at use
                _log.debug("agent %s not prepared: %s", name, exc)

    async def check(self, *, probe: bool = True) -> list[AgentCheck]:
        """What each backend says of itself and, with `probe`, key presence and reachability (its optional
        `check()`), every agent concurrently. Without `probe` no call leaves the process."""

        async def one(name: str, roles: tuple[str, ...]) -> AgentCheck:
            try:
                spec = self.spec(name)
            except ConfigError as exc:
                return AgentCheck(name, "?", "?", roles, f"not usable: {exc}")
            facts: AgentFacts | None = None
            status = "ok" if probe else "not checked"
            try:
                facts = self.facts(spec)
                reach = getattr(self.backend(spec), "check", None)
                if probe and reach is not None:
                    status = str(await reach())
            except DraftloopError as exc:
                status = str(exc)
            return AgentCheck(spec.name, spec.provider, spec.model, roles, status, facts, spec, self.limit_of(spec))

        return list(await asyncio.gather(*(one(name, roles) for name, roles in self.routes().items())))

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()
        for gate in self._gates.values():
            gate.close()
