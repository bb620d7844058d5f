"""Fixtures of the contract suite: a driver per (chat platform, agent backend), on the test database.

`driver` is parametrized indirectly with "platform-backend" ids (see test_contract.py). The toy
platform's policy is registered for every test here, before any config is read, as its entry point
would make it known.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import discord.gateway
import discord.http
import pytest

from bot import platforms
from bot.settings import Settings
from storage.engine import Database
from tests.contract import backends
from tests.contract.drivers.base import Driver
from tests.contract.drivers.console import ConsoleDriver
from tests.contract.drivers.discord import DiscordDriver
from tests.contract.drivers.slack import SlackDriver
from tests.contract.drivers.toy import ToyDriver
from tests.contract.toyplatform.policy import TOY
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import FakeSlackAPI

PLATFORMS = ("console", "slack", "discord", "toyplatform")
BACKENDS = ("offline", "openai", "anthropic")


@pytest.fixture(autouse=True)
def toy_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    platforms.register(TOY)
    yield
    platforms.unregister(TOY.name)


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer() as server:
        yield server


def _backend(name: str, llm: FakeLLMServer) -> backends.Backend:
    if name == "offline":
        return backends.offline()
    return backends.openai(llm) if name == "openai" else backends.anthropic(llm)


async def _started(platform: str, settings_for: Callable[..., Settings], db: Database, stack: list[Any]) -> Driver:
    if platform == "console":
        return await ConsoleDriver.start(settings_for, db)
    if platform == "toyplatform":
        return await ToyDriver.start(settings_for, db)
    if platform == "slack":
        slack = FakeSlackAPI()
        await slack.start()
        stack.append(slack.stop)
        return await SlackDriver.start(settings_for, db, slack)
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    fake = FakeDiscord()
    await fake.start()

    async def restore() -> None:
        await fake.stop()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway

    stack.append(restore)
    return await DiscordDriver.start(settings_for, db, fake)


@pytest.fixture
async def driver(
    request: pytest.FixtureRequest, db: Database, settings_factory: Callable[..., Settings], llm: FakeLLMServer
) -> AsyncIterator[Driver]:
    platform, backend_name = str(request.param).split("-")
    backend = _backend(backend_name, llm)  # the fake LLM server runs for every test: it costs milliseconds

    def settings_for(toml: str, **fields: Any) -> Settings:
        return settings_factory(backend.toml + toml, draftloop_agent=backends.AGENT, **backend.fields, **fields)

    stack: list[Any] = []
    made = await _started(platform, settings_for, db, stack)
    made.backend = backend  # type: ignore[attr-defined]
    try:
        yield made
    finally:
        await made.stop()  # type: ignore[attr-defined]
        for close in reversed(stack):
            await close()
