"""The test plays Slack: a human's message goes into the fake Web API's state, and its event is
delivered, signed, to every target process, redelivered as Slack redelivers.

Slack's Events API counts a delivery as failed when the answer is not a 2xx within 3 seconds; it
then retries up to three times ("nearly immediately, after 1 minute, after 5 minutes"), each retry
carrying `X-Slack-Retry-Num` and `X-Slack-Retry-Reason` (`http_error` for a 5xx, `http_timeout`
for no answer in time). A 2xx, or an answer carrying `X-Slack-No-Retry: 1`, ends the retries.
`RETRY_DELAYS` is that schedule compressed 50-fold (1 min -> 1.2 s, 5 min -> 6 s), so a database
outage of a few seconds here stands for one of a few minutes in production.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from tests.fakes.slack_api import FakeSlackAPI, event_envelope, sign
from tests.faults.processes import CHANNEL, EXPERT, REQUESTER, SECRET

ACK_DEADLINE = 3.0  # Slack's: no answer in 3 s is a failed delivery
RETRY_DELAYS = (0.2, 1.2, 6.0)  # Slack's three retries, compressed 50-fold

Kind = Literal["mention", "reply", "reaction"]


@dataclass
class Attempt:
    target: str
    retry: int
    status: int  # 0: no answer in time or no connection
    reason: str  # why this attempt failed, as Slack would say it on the next retry; "" when acked
    no_retry: bool
    at: float


@dataclass
class Delivery:
    """One event (one event_id) and every attempt to deliver it, to every target."""

    kind: Kind
    envelope: dict[str, Any]
    ts: str  # the human's message (mention, reply) or the reacted message
    thread_ts: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    acked_by: set[str] = field(default_factory=set)

    @property
    def event_id(self) -> str:
        return str(self.envelope["event_id"])

    @property
    def acked(self) -> bool:
        return bool(self.acked_by)

    @property
    def failed_answers(self) -> list[Attempt]:
        return [a for a in self.attempts if a.reason != ""]


class SlackPlayer:
    """Delivers events to `targets` (events URLs); each target is retried on its own, as two Slack
    apps sharing one Request URL would not be, but as two deliveries to two processes are."""

    def __init__(
        self,
        fake: FakeSlackAPI,
        targets: list[str],
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        ack_deadline: float = ACK_DEADLINE,
        channel: str = CHANNEL,
    ) -> None:
        self.fake = fake
        self.targets = targets
        self.retry_delays = retry_delays
        self.ack_deadline = ack_deadline
        self.channel = channel
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    # ---- what people do

    def mention(self, text: str, *, user: str = REQUESTER) -> Delivery:
        """`@draftloop text` posted in the channel; delivered in the background."""
        msg = self.fake.add_user_message(self.channel, f"<@{self.fake.bot_user_id}> {text}", user=user)
        inner = {
            "type": "app_mention",
            "user": user,
            "text": msg["text"],
            "ts": msg["ts"],
            "channel": self.channel,
            "event_ts": msg["ts"],
        }
        return self._send("mention", inner, msg["ts"])

    def reply(self, thread_ts: str, text: str, *, user: str = EXPERT) -> Delivery:
        msg = self.fake.add_user_message(self.channel, text, user=user, thread_ts=thread_ts)
        inner = {
            "type": "message",
            "channel": self.channel,
            "channel_type": "channel",
            "user": user,
            "text": text,
            "ts": msg["ts"],
            "thread_ts": thread_ts,
            "event_ts": msg["ts"],
        }
        return self._send("reply", inner, msg["ts"], thread_ts)

    def react(self, ts: str, name: str = "white_check_mark", *, user: str = REQUESTER) -> Delivery:
        inner = {
            "type": "reaction_added",
            "user": user,
            "reaction": name,
            "item_user": self.fake.bot_user_id,
            "item": {"type": "message", "channel": self.channel, "ts": ts},
            "event_ts": f"{time.time():.6f}",
        }
        return self._send("reaction", inner, ts)

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until every delivery has been acked or has run out of retries."""
        if self._tasks:
            await asyncio.wait_for(asyncio.gather(*list(self._tasks)), timeout)

    # ---- delivery

    def _send(self, kind: Kind, inner: dict[str, Any], ts: str, thread_ts: str | None = None) -> Delivery:
        envelope = event_envelope(inner, team_id=self.fake.team_id, bot_user_id=self.fake.bot_user_id)
        delivery = Delivery(kind, envelope, ts, thread_ts)
        self.deliveries.append(delivery)
        for target in self.targets:
            task = asyncio.get_running_loop().create_task(self._deliver(delivery, target))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return delivery

    async def _deliver(self, delivery: Delivery, target: str) -> None:
        reason = ""
        for retry in range(len(self.retry_delays) + 1):
            if retry:
                await asyncio.sleep(self.retry_delays[retry - 1])
            attempt = await self._attempt(delivery, target, retry, reason)
            delivery.attempts.append(attempt)
            if attempt.reason == "":
                delivery.acked_by.add(target)
                return
            if attempt.no_retry:
                return
            reason = attempt.reason

    async def _attempt(self, delivery: Delivery, target: str, retry: int, reason: str) -> Attempt:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        body = json.dumps(delivery.envelope)
        headers = {"Content-Type": "application/json", **sign(SECRET, body)}
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": reason}
        at = time.monotonic()
        try:
            async with asyncio.timeout(self.ack_deadline):
                async with self._session.post(target, data=body.encode(), headers=headers) as resp:
                    await resp.read()
                    status, no_retry = resp.status, resp.headers.get("X-Slack-No-Retry") == "1"
        except TimeoutError:
            return Attempt(target, retry, 0, "http_timeout", False, at)
        except aiohttp.ClientError:
            return Attempt(target, retry, 0, "unknown_error", False, at)
        if 200 <= status < 300:
            return Attempt(target, retry, status, "", no_retry, at)
        return Attempt(target, retry, status, "http_error", no_retry, at)
