"""The agent pool: turns agent names into backends (via entry points), limits calls in flight per
agent, retries what is worth retrying, falls back to the next agent, and prices the result."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol

from bot.agent_spec import AgentSpec
from bot.errors import AgentError, AgentRejected, AgentUnavailable, ConfigError, DraftloopError
from bot.ports import AgentBackend, DraftRequest, DraftResult
from bot.settings import Settings
from bot.triage import default_agent_name, resolve_spec

_log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "draftloop.agents"
MAX_BACKOFF = 8.0
MAX_RETRY_WAIT = 60.0  # a provider asking for a longer pause sends the draft to the fallback

Progress = Callable[[str], Awaitable[None]]


class AgentFactory(Protocol):
    def __call__(self, spec: AgentSpec, settings: Settings) -> AgentBackend: ...


def load_factory(provider: str) -> AgentFactory:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == provider:
            factory: AgentFactory = ep.load()
            return factory
    raise ConfigError(f"no agent backend installed for provider {provider!r}")


def cost_usd(spec: AgentSpec, result: DraftResult) -> float:
    """Cached input tokens are billed at the cached price, the rest at the input price."""
    uncached = max(0, result.input_tokens - result.cached_tokens)
    return (
        uncached * spec.price_input
        + result.cached_tokens * spec.price_cached
        + result.output_tokens * spec.price_output
    ) / 1_000_000


@dataclass(frozen=True)
class AgentCheck:
    """One line of `draftloop agents`: where an agent is used and whether it can be called."""

    name: str
    provider: str
    model: str
    key_env: str
    roles: tuple[str, ...]
    status: str

    @property
    def ok(self) -> bool:
        return self.status.startswith("ok")


def default_key_env(spec: AgentSpec) -> str:
    if spec.key_env:
        return spec.key_env
    return {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}.get(spec.provider, "")


class AgentPool:
    """Backends by agent name, each behind its own FIFO limit of calls in flight.

    `draft` tries each agent of the route in turn: AgentUnavailable and AgentRateLimited are retried
    on the same agent (`max_retries` times, back-off 0.5 s·2^n with jitter, or the provider's
    retry-after), any other AgentError or a retry-after above MAX_RETRY_WAIT moves on to the next
    agent, and when all fail the last error propagates (the workflow marks the project failed).
    """

    def __init__(self, settings: Settings, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.settings = settings
        self._backends: dict[str, AgentBackend] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self.sleep = sleep  # replaceable: tests record back-off instead of waiting

    def spec(self, name: str) -> AgentSpec:
        return resolve_spec(name, self.settings)

    def backend(self, spec: AgentSpec) -> AgentBackend:
        backend = self._backends.get(spec.name)
        if backend is None:
            backend = load_factory(spec.provider)(spec, self.settings)
            self._backends[spec.name] = backend
        return backend

    def _limit(self, spec: AgentSpec) -> asyncio.Semaphore:
        # asyncio.Semaphore wakes waiters in FIFO order: first come, first served.
        sem = self._limits.get(spec.name)
        if sem is None:
            sem = self._limits[spec.name] = asyncio.Semaphore(max(1, spec.max_concurrency))
        return sem

    async def _once(self, spec: AgentSpec, request: DraftRequest, progress: Progress | None) -> DraftResult:
        backend = self.backend(spec)
        text = ""
        async with self._limit(spec):
            async for item in backend.stream(request):
                if isinstance(item, DraftResult):
                    if not item.text.strip():
                        raise AgentRejected(f"agent {spec.name} returned an empty answer", agent=spec.name)
                    return item
                text += item
                if progress is not None:
                    try:
                        await progress(text)
                    except Exception as exc:  # showing progress is best effort; the draft goes on
                        _log.warning("progress update for agent %s failed, streaming display off: %s", spec.name, exc)
                        progress = None
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
                    return await self._once(spec, request, progress), spec
                except AgentError as exc:
                    last = exc
                    _log.warning("agent %s attempt %d failed: %s", spec.name, attempt + 1, exc)
                    if not exc.retryable or attempt == spec.max_retries:
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

    async def check(self) -> list[AgentCheck]:
        """Key presence and reachability of every agent, checked concurrently."""

        async def one(name: str, roles: tuple[str, ...]) -> AgentCheck:
            try:
                spec = self.spec(name)
            except ConfigError as exc:
                return AgentCheck(name, "?", "?", "", roles, f"not usable: {exc}")
            status = "ok"
            try:
                backend = self.backend(spec)
                probe = getattr(backend, "check", None)
                if probe is not None:
                    status = str(await probe())
            except DraftloopError as exc:
                status = str(exc)
            return AgentCheck(spec.name, spec.provider, spec.model, default_key_env(spec), roles, status)

        return list(await asyncio.gather(*(one(name, roles) for name, roles in self.routes().items())))

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()
