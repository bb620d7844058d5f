"""Slack, driven as Slack drives the app: signed Events API and interactivity requests to the real web
app of `draftloop serve` (bolt), which answers through the real AsyncWebClient into the fake Web API."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import aiohttp

from adapters.chat.slack import service as slack_service
from bot.app.runtime import Runtime
from bot.events import Outcome
from bot.settings import Settings
from storage.engine import Database
from tests.contract.drivers.base import Draft, Part, settle
from tests.fakes.slack_api import FakeSlackAPI, event_envelope
from tests.slack.conftest import SECRET, SlackHarness, block_actions, button_in, message_event

CHANNEL = "C0CHAN"
PEOPLE: dict[Part, str] = {"requester": "UREQ", "expert": "UEXP", "outsider": "UOUT"}
CONFIG = '[categories.writing]\nexperts = ["UEXP"]\n'
_VERSION = re.compile(r"#\d+ · v(\d+)")


class _Harness(SlackHarness):
    """The tests/slack harness on the contract suite's database."""

    def __init__(self, fake: FakeSlackAPI, settings: Settings, db: Database) -> None:
        super().__init__(fake, settings)
        self._db = db

    async def start(self) -> _Harness:
        self.runtime = Runtime(self.settings, db=self._db)
        service = slack_service.create(self.runtime, "web")
        assert service is not None
        service.host = "127.0.0.1"
        await service.start()
        self.service = service
        self.http = self.http or aiohttp.ClientSession()
        return self


class SlackDriver:
    platform = "slack"
    redelivers = True

    def __init__(self, fake: FakeSlackAPI, harness: _Harness) -> None:
        self.fake, self.harness = fake, harness
        assert harness.runtime is not None
        self.runtime: Runtime = harness.runtime
        self._last: dict[str, Any] | None = None

    @classmethod
    async def start(cls, settings_for: Callable[..., Settings], db: Database, fake: FakeSlackAPI) -> SlackDriver:
        settings = settings_for(
            CONFIG,
            slack_bot_token=fake.token,
            slack_signing_secret=SECRET,
            slack_app_token=None,
            slack_api_url=fake.api_url,
            port=0,
        )
        harness = _Harness(fake, settings, db)
        await harness.start()
        return cls(fake, harness)

    async def stop(self) -> None:
        await self.harness.close()

    async def _event(self, inner: dict[str, Any]) -> None:
        envelope = self._last = event_envelope(inner, team_id=self.fake.team_id, bot_user_id=self.fake.bot_user_id)
        status, _ = await self.harness.envelope(envelope)
        assert status == 200
        await settle(self.runtime)

    async def request(self, text: str, *, who: Part = "requester") -> str:
        user = PEOPLE[who]
        msg = self.fake.add_user_message(CHANNEL, f"<@{self.fake.bot_user_id}> {text}", user=user)
        ts: str = msg["ts"]
        await self._event(
            {"type": "app_mention", "user": user, "text": msg["text"], "ts": ts, "channel": CHANNEL, "event_ts": ts}
        )
        return ts

    async def reply(self, thread: str, text: str, *, who: Part) -> None:
        msg = self.fake.add_user_message(CHANNEL, text, user=PEOPLE[who], thread_ts=thread)
        await self._event(message_event(msg, channel=CHANNEL))

    async def decide(self, thread: str, outcome: Outcome, *, who: Part) -> None:
        latest = [m for m in self._bot(thread) if _has_buttons(m)][-1]
        button = button_in(latest, f"dl_{outcome.value}")
        payload = block_actions(
            latest, button, user=PEOPLE[who], channel=CHANNEL, response_url=self.fake.response_url()
        )
        self._last = None  # Slack does not redeliver a click
        status, _ = await self.harness.interact(payload)
        assert status == 200
        await settle(self.runtime)

    async def redeliver(self) -> None:
        assert self._last is not None, "only Events API deliveries are retried by Slack"
        status, _ = await self.harness.envelope(self._last, retry=1)
        assert status == 200
        await settle(self.runtime)

    def _bot(self, thread: str) -> list[dict[str, Any]]:
        return [m for m in self.fake.thread(CHANNEL, thread) if m.get("bot_id")]

    def public(self, thread: str) -> list[str]:
        return [str(m.get("text", "")) for m in self._bot(thread)]

    def drafts(self, thread: str) -> list[Draft]:
        found = []
        for m in self._bot(thread):
            header = next((b for b in m.get("blocks") or [] if b.get("type") == "header"), None)
            version = _VERSION.match(header["text"]["text"]) if header else None
            if version and _has_buttons(m):
                found.append(Draft(int(version[1]), str(m["text"])))
        return found

    def private(self, who: Part) -> list[str]:
        return [str(e["text"]) for e in self.fake.ephemerals if e["user"] == PEOPLE[who]]


def _has_buttons(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "actions" for b in message.get("blocks") or [])
