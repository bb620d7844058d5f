"""Where `draftloop mcp` posts (adapters/mcp/platforms.py): the console on stderr by default, and Slack
and Discord, outbound only, whenever their token is set: a project asked for with `channel` lands in a
thread there, through the real client libraries against the local fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import discord
import pytest

from adapters.mcp import platforms
from bot.app.runtime import Runtime
from bot.settings import Settings
from storage.engine import Database
from tests.conftest import FakeClock
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import FakeSlackAPI
from tests.mcp.conftest import AGENT

# Where it posts does not depend on the database: SQLite only.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
        discord.http.Route.BASE = base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


async def test_the_console_by_default_prints_on_stderr(
    settings_factory: Callable[..., Settings], db: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = Runtime(settings_factory(), db=db, clock=clock)
    close = await platforms.connect(runtime)
    try:
        assert set(runtime.workflow.platforms) == {"console"}
        await runtime.workflow.external.open(AGENT, brief="a plan", draft="the plan")
    finally:
        await close()
    out, err = capsys.readouterr()
    assert out == "" and "Review requested by external:claude-code" in err and "| the plan" in err


async def test_slack_when_its_token_is_set(
    settings_factory: Callable[..., Settings], db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    async with FakeSlackAPI() as fake:
        settings = settings_factory(slack_bot_token=fake.token, slack_api_url=fake.api_url)
        runtime = Runtime(settings, db=db, clock=clock)
        close = await platforms.connect(runtime)
        try:
            assert set(runtime.workflow.platforms) == {"console", "slack"}
            opened = (
                await runtime.workflow.external.open(AGENT, brief="a plan", draft="the plan", channel="slack:C9")
            ).to_json()
        finally:
            await close()
        thread = opened["thread"]["thread"]
        texts = [m["text"] for m in fake.bot_messages("C9")]
        assert opened["thread"]["platform"] == "slack" and opened["posted"]
        assert any("Review requested by external:claude-code" in t for t in texts)
        assert any("the plan" in m["text"] for m in fake.bot_messages("C9") if m.get("thread_ts") == thread)


async def test_discord_over_rest_when_its_token_is_set(
    settings_factory: Callable[..., Settings], db: Database, clock: FakeClock, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    settings = settings_factory(
        discord_token=fake_discord.token,
        discord_api_url=fake_discord.api_base,
        discord_gateway_url=fake_discord.gateway_url,
    )
    runtime = Runtime(settings, db=db, clock=clock)
    close = await platforms.connect(runtime)
    try:
        assert set(runtime.workflow.platforms) == {"console", "discord"}
        assert fake_discord.connected == 0  # no gateway: the worker keeps the events
        channel = f"discord:{fake_discord.general}"
        opened = (
            await runtime.workflow.external.open(AGENT, brief="a plan", draft="the plan", channel=channel)
        ).to_json()
    finally:
        await close()
    assert opened["posted"] and opened["thread"]["platform"] == "discord"
    [thread] = fake_discord.threads(fake_discord.general)
    posted = [m for m in fake_discord.bot_messages() if int(m["channel_id"]) == int(thread["id"])]
    assert any("the plan" in str(m) for m in posted)


async def test_the_configured_channel_is_where_a_request_without_one_lands(
    settings_factory: Callable[..., Settings], db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    async with FakeSlackAPI() as fake:
        settings = settings_factory(
            toml='[mcp]\nchannel = "slack:C7"\n', slack_bot_token=fake.token, slack_api_url=fake.api_url
        )
        runtime = Runtime(settings, db=db, clock=clock)
        close = await platforms.connect(runtime)
        try:
            opened = (await runtime.workflow.external.open(AGENT, brief="a plan", draft="the plan")).to_json()
        finally:
            await close()
        assert (opened["thread"]["platform"], opened["thread"]["channel"]) == ("slack", "C7")
        assert any("the plan" in m["text"] for m in fake.bot_messages("C7"))
