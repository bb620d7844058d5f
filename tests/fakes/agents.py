"""Agent backends for tests: install one with `AgentPool.use(agent_name, backend)`, or make a provider of
its class with `bot.agents.register_backend(name, cls)`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing

from bot.agent_spec import AgentSpec
from bot.ports import AgentBackend, DraftRequest, DraftResult
from bot.settings import Settings


class Intercepted:
    """A real backend behind a hook: `before(request)` runs first on every call, where the network edge
    would be. It may wait (hold a call until a test lets it go) or raise (a provider failure)."""

    def __init__(self, inner: AgentBackend, before: Callable[[DraftRequest], Awaitable[None]]) -> None:
        self.inner, self.before = inner, before
        self.name, self.model = inner.name, inner.model

    async def stream(self, request: DraftRequest) -> AsyncIterator[str | DraftResult]:
        await self.before(request)
        async with aclosing(self.inner.stream(request)) as items:
            async for item in items:
                yield item

    async def aclose(self) -> None:
        await self.inner.aclose()


class EchoAgent:
    """A third-party backend at its plainest: no `facts()`, no `check()`; its draft is the brief."""

    def __init__(self, spec: AgentSpec, settings: Settings) -> None:
        self.name, self.model = spec.name, spec.model
        self.closed = False

    async def stream(self, request: DraftRequest) -> AsyncIterator[str | DraftResult]:
        yield request.brief
        yield DraftResult(text=request.brief, model=self.model)

    async def aclose(self) -> None:
        self.closed = True
