"""The agent pool: turns agent names into backends (via entry points), limits calls in flight per
agent, retries what is worth retrying, falls back to the next agent, and prices the result."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points
from typing import Protocol

from bot.errors import AgentError, AgentRejected, AgentUnavailable, ConfigError
from bot.ports import AgentBackend, DraftRequest, DraftResult
from bot.settings import AgentSpec, Settings
from bot.triage import resolve_spec

_log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "draftloop.agents"
MAX_BACKOFF = 8.0

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


class AgentPool:
    def __init__(self, settings: Settings, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.settings = settings
        self._backends: dict[str, AgentBackend] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._sleep = sleep

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
                        raise AgentRejected(f"{spec.name}: the model returned an empty answer", agent=spec.name)
                    return item
                text += item
                if progress is not None:
                    await progress(text)
        raise AgentUnavailable(f"{spec.name}: the stream ended without a result", agent=spec.name)

    async def draft(
        self, *, agents: list[str], request: DraftRequest, progress: Progress | None = None
    ) -> tuple[DraftResult, AgentSpec]:
        """Run the first agent that succeeds; raise the last error when all fail."""
        last: AgentError | None = None
        for name in agents:
            spec = self.spec(name)
            for attempt in range(spec.max_retries + 1):
                try:
                    return await self._once(spec, request, progress), spec
                except AgentError as exc:
                    last = exc
                    _log.warning("agent %s attempt %d failed: %s", spec.name, attempt + 1, exc)
                    if not exc.retryable or attempt == spec.max_retries:
                        break
                    delay = exc.retry_after if exc.retry_after is not None else 0.5 * 2**attempt
                    await self._sleep(min(MAX_BACKOFF, max(0.0, delay)))
        assert last is not None, "draft() needs at least one agent"
        raise last

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()
