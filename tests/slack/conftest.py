"""A Slack harness: the fake Web API, a Runtime on a private database, and the real web app of
`draftloop serve` (the Slack service) on 127.0.0.1, driven with signed HTTP requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.chat.slack import service as slack_service
from bot.app.runtime import Runtime
from bot.settings import Settings
from storage import projects as store
from storage.models import Project
from tests.fakes.slack_api import (
    FakeSlackAPI,
    event_envelope,
    interactive_body,
    sign,
    slash_command_body,
)

SECRET = "test-signing-secret"
CHANNEL = "C0CHAN"
REQUESTER = "UREQ"
EXPERT = "UEXP"
OUTSIDER = "UOUT"
GROUP = "S0EXPERTS"

CONFIG = f"""
[categories.writing]
experts = ["{EXPERT}"]
mention = ["{EXPERT}", "{GROUP}"]
"""


def mention_event(
    fake: FakeSlackAPI,
    text: str,
    *,
    user: str = REQUESTER,
    channel: str = CHANNEL,
    files: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A human posts `@draftloop text` (stored in the fake): the message and Slack's app_mention event."""
    msg = fake.add_user_message(channel, f"<@{fake.bot_user_id}> {text}", user=user, files=files)
    inner: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": msg["text"],
        "ts": msg["ts"],
        "channel": channel,
        "event_ts": msg["ts"],
    }
    if files:
        inner["files"] = files
    return msg, inner


class SlackHarness:
    def __init__(self, fake: FakeSlackAPI, settings: Settings) -> None:
        self.fake = fake
        self.settings = settings
        self.runtime: Runtime | None = None
        self.service: slack_service.SlackService | None = None
        self.http: aiohttp.ClientSession | None = None

    # ---- lifecycle (a "process": runtime + web service)

    async def start(self) -> SlackHarness:
        self.runtime = await Runtime.create(self.settings)
        service = slack_service.create(self.runtime, "web")
        assert service is not None
        service.host = "127.0.0.1"
        await service.start()
        self.service = service
        self.http = self.http or aiohttp.ClientSession()
        return self

    async def stop(self, *, drain: bool = True) -> None:
        if self.service is not None:
            await self.service.stop()
            self.service = None
        if self.runtime is not None:
            if drain:
                await self.runtime.close()
            else:
                for task in list(self.runtime._tasks):
                    task.cancel()
                await asyncio.gather(*self.runtime._tasks, return_exceptions=True)
                await self.runtime.agents.aclose()
                await self.runtime.db.dispose()
            self.runtime = None

    async def close(self) -> None:
        await self.stop()
        if self.http is not None:
            await self.http.close()

    @property
    def url(self) -> str:
        assert self.service is not None
        return f"http://127.0.0.1:{self.service.port}/slack/events"

    # ---- inbound

    async def send(
        self, body: str, *, content_type: str, headers: dict[str, str] | None = None, secret: str = SECRET
    ) -> tuple[int, str]:
        assert self.http is not None
        all_headers = {"Content-Type": content_type, **sign(secret, body), **(headers or {})}
        async with self.http.post(self.url, data=body.encode(), headers=all_headers) as resp:
            return resp.status, await resp.text()

    async def event(self, inner: dict[str, Any], *, event_id: str | None = None, retry: int = 0) -> tuple[int, str]:
        envelope = event_envelope(
            inner, team_id=self.fake.team_id, bot_user_id=self.fake.bot_user_id, event_id=event_id
        )
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return await self.send(json.dumps(envelope), content_type="application/json", headers=headers)

    async def envelope(self, envelope: dict[str, Any], *, retry: int = 0) -> tuple[int, str]:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return await self.send(json.dumps(envelope), content_type="application/json", headers=headers)

    async def command(self, command: str, text: str, *, user: str, channel: str = CHANNEL) -> tuple[int, str]:
        body = slash_command_body(
            command, text, user_id=user, channel_id=channel, response_url=self.fake.response_url()
        )
        return await self.send(body, content_type="application/x-www-form-urlencoded")

    async def interact(self, payload: dict[str, Any]) -> tuple[int, str]:
        return await self.send(interactive_body(payload), content_type="application/x-www-form-urlencoded")

    # ---- building Slack's payloads from the fake's state

    async def mention(
        self, text: str, *, user: str = REQUESTER, channel: str = CHANNEL, **extra: Any
    ) -> dict[str, Any]:
        """A human posts `@draftloop text` (stored in the fake) and Slack sends app_mention."""
        msg, inner = mention_event(self.fake, text, user=user, channel=channel, files=extra.get("files"))
        status, _ = await self.event(inner)
        assert status == 200
        return msg

    async def reply(self, thread_ts: str, text: str, *, user: str, channel: str = CHANNEL) -> dict[str, Any]:
        msg = self.fake.add_user_message(channel, text, user=user, thread_ts=thread_ts)
        inner = message_event(msg, channel=channel)
        status, _ = await self.event(inner)
        assert status == 200
        return msg

    async def react(self, ts: str, name: str, *, user: str, channel: str = CHANNEL) -> tuple[int, str]:
        return await self.event(reaction_event(ts, name, user=user, channel=channel, item_user=self.fake.bot_user_id))

    async def click(
        self, message: dict[str, Any], action_id: str, *, user: str, channel: str = CHANNEL
    ) -> tuple[int, str]:
        button = button_in(message, action_id)
        return await self.interact(
            block_actions(message, button, user=user, channel=channel, response_url=self.fake.response_url())
        )

    async def submit(self, view: dict[str, Any], values: dict[str, Any], *, user: str) -> tuple[int, str]:
        return await self.interact(view_submission(view, values, user=user))

    # ---- waiting and reading

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until every piece of work started by the requests so far has finished."""
        assert self.runtime is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = 0
        while quiet < 3:
            if loop.time() > deadline:
                raise TimeoutError(f"still busy after {timeout} s ({self.runtime.in_flight} tasks)")
            await asyncio.sleep(0.02)
            quiet = quiet + 1 if self.runtime.in_flight == 0 else 0

    async def project(self, number: int) -> Project:
        assert self.runtime is not None
        async with self.runtime.db.session() as session:
            project = await store.get_project(session=session, project_id=number)
        assert project is not None
        return project

    async def project_count(self) -> int:
        assert self.runtime is not None
        from sqlalchemy import func, select

        async with self.runtime.db.session() as session:
            return int((await session.execute(select(func.count()).select_from(Project))).scalar_one())

    async def asides(self, number: int) -> list[str]:
        """The texts stored as asides on project `number` (kept, no revision), oldest first."""
        assert self.runtime is not None
        from sqlalchemy import select
        from sqlmodel import col

        from storage.models import Feedback

        query = select(Feedback.text).where(col(Feedback.project_id) == number, col(Feedback.is_aside))
        async with self.runtime.db.session() as session:
            return [str(t) for t in (await session.execute(query.order_by(col(Feedback.id)))).scalars()]

    def drafts(self, channel: str = CHANNEL) -> list[dict[str, Any]]:
        """Bot messages that carry decision buttons (Accept / Request changes / Reject), oldest first."""
        return [
            m
            for m in self.fake.bot_messages(channel)
            if any(str(b.get("block_id", "")).startswith("dl_controls_") for b in m.get("blocks") or [])
        ]


# ---------------------------------------------------------------------- payload builders


def message_event(msg: dict[str, Any], *, channel: str, channel_type: str = "channel") -> dict[str, Any]:
    inner = {"type": "message", "channel": channel, "channel_type": channel_type, "event_ts": msg["ts"]}
    inner.update(
        {k: v for k, v in msg.items() if k in ("user", "text", "ts", "thread_ts", "bot_id", "files", "subtype")}
    )
    return inner


def reaction_event(ts: str, name: str, *, user: str, channel: str, item_user: str) -> dict[str, Any]:
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": name,
        "item_user": item_user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": f"{ts}9",
    }


def button_in(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        if block.get("type") == "actions":
            for element in block["elements"]:
                if element["action_id"] == action_id:
                    return {**element, "block_id": block["block_id"]}
    raise AssertionError(f"no {action_id} button in {message.get('ts')}")


_action_ts = iter(range(1, 1_000_000))


def block_actions(
    message: dict[str, Any], button: dict[str, Any], *, user: str, channel: str, response_url: str
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "team": {"id": "T0001", "domain": "example"},
        "trigger_id": f"trig.{next(_action_ts)}",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
            "thread_ts": message.get("thread_ts"),
        },
        "channel": {"id": channel, "name": "general"},
        "message": message,
        "response_url": response_url,
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": button["block_id"],
                "type": "button",
                "value": button["value"],
                "text": button["text"],
                "action_ts": f"1700000000.{next(_action_ts):06d}",
            }
        ],
        "state": {"values": {}},
    }


def view_submission(view: dict[str, Any], values: dict[str, Any], *, user: str) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        element = block["element"]
        value = values.get(block["block_id"])
        if element["type"] == "static_select":
            item = {"type": "static_select", "selected_option": {"value": value} if value else None}
        elif element["type"] == "datepicker":
            item = {"type": "datepicker", "selected_date": value}
        else:
            item = {"type": element["type"], "value": value}
        state[block["block_id"]] = {element["action_id"]: item}
    return {
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "trigger_id": f"trig.{next(_action_ts)}",
        "view": {**view, "state": {"values": state}, "hash": "h", "team_id": "T0001", "app_id": "A0001"},
        "response_urls": [],
    }


# ---------------------------------------------------------------------- fixtures


@pytest.fixture
def slack_settings(tmp_path: Path) -> Any:
    def make(fake: FakeSlackAPI, **overrides: Any) -> Settings:
        config = tmp_path / "draftloop.toml"
        config.write_text(CONFIG)
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp_path / 'draftloop.db'}",
            "draftloop_data_dir": tmp_path,
            "draftloop_agent": "offline",
            "draftloop_config": config,
            "port": 0,
            "slack_bot_token": fake.token,
            "slack_signing_secret": SECRET,
            "slack_app_token": None,
            "slack_api_url": fake.api_url,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
async def slack(
    fake_slack: FakeSlackAPI, slack_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SlackHarness]:
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    harness = SlackHarness(fake_slack, slack_settings(fake_slack))
    await harness.start()
    try:
        yield harness
    finally:
        await harness.close()
