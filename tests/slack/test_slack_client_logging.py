"""The Slack Web API client builds no debug lines unless debug logging is on."""

from __future__ import annotations

import io
import logging

import pytest

from adapters.chat.slack.platform import make_client
from bot.app.log_config import setup_logging
from tests.fakes.slack_api import FakeSlackAPI


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_a_call_formats_no_debug_lines(monkeypatch: pytest.MonkeyPatch, level: str) -> None:
    # The SDK formats a debug line of each request and response (the whole JSON) when its logger's
    # own level is NOTSET, whatever the effective level. The client gets the logger the set-up
    # keeps at WARNING (SDK debug lines carry request headers), at any level of draftloop's own.
    setup_logging(level, stream=io.StringIO())
    lines: list[str] = []
    async with FakeSlackAPI() as fake:
        client = make_client(fake.token, base_url=fake.api_url, retries=0)
        monkeypatch.setattr(client._logger, "debug", lambda message, *a, **k: lines.append(message))
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]
        response = await client.chat_postMessage(channel="C1", text="hello", blocks=blocks)
    assert response["ok"] is True
    assert lines == []
    assert client._logger.getEffectiveLevel() == logging.WARNING


async def test_the_sdks_default_logger_would_have_formatted_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the client had before: the SDK's own logger, level NOTSET (a guard the test above can fail)."""
    from slack_sdk.web.async_client import AsyncWebClient

    setup_logging("INFO", stream=io.StringIO())
    lines: list[str] = []
    async with FakeSlackAPI() as fake:
        client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
        monkeypatch.setattr(client._logger, "debug", lambda message, *a, **k: lines.append(message))
        await client.chat_postMessage(channel="C1", text="hello")
    assert lines, "the SDK's default logger formats debug lines at INFO"
