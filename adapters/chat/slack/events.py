"""Slack Events API listeners: mentions, messages (thread replies, DMs) and reactions → core events.

A thread reply goes to the core whatever it says: the core decides what it is (feedback, an aside
starting with `//`, `accept`, `retry`…), the same on every platform.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.app.async_app import AsyncApp

from adapters.chat.slack.intake import SlackIntake, strip_mention, thread_of
from adapters.chat.slack.platform import PLATFORM
from bot.events import (
    CommandInvoked,
    DecisionSignal,
    Event,
    Locator,
    MessageRef,
    RequestPosted,
    ThreadRef,
    ThreadReply,
)
from bot.vocabulary import emoji_outcome

log = logging.getLogger(__name__)

COMMANDS = ("help", "status", "digest", "mine")
# Slack names its reactions; the decision vocabulary (bot/vocabulary.py) has the characters.
REACTION_EMOJI = {
    "white_check_mark": "✅",
    "heavy_check_mark": "✔",
    "ballot_box_with_check": "☑",
    "x": "❌",
}


class EventListeners:
    def __init__(self, intake: SlackIntake) -> None:
        self.intake = intake

    def register(self, app: AsyncApp) -> None:
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.event("reaction_added")(self.on_reaction)
        # Events we do not act on are still answered 200, so Slack does not retry them.
        app.event(re.compile(".*"))(self.on_other_event)

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]) -> None:
        if event.get("bot_id") or not event.get("user"):
            return
        if thread_of(event):
            return  # a mention inside a thread arrives as a message event too: a thread reply
        key = body.get("event_id")
        self.intake.note_recipient(body, str(event["channel"]), str(event["ts"]), str(event["user"]))
        await self.intake.submit(key, self._request(event, key, context.get("bot_user_id")), body)

    async def _request(self, event: dict[str, Any], key: str | None, bot_user_id: str | None) -> Event:
        channel, ts = str(event["channel"]), str(event["ts"])
        text = strip_mention(event.get("text") or "", bot_user_id)
        actor = await self.intake.actor(str(event["user"]))
        shared = event.get("files") or []
        words = text.split()
        if not shared and (not words or (len(words) == 1 and words[0].lower() in COMMANDS)):
            name = words[0].lower() if words else "help"
            return CommandInvoked(name, actor, reply_to=ThreadRef(PLATFORM, channel, ts), event_key=key)
        return RequestPosted(
            origin=MessageRef(PLATFORM, channel, ts),
            actor=actor,
            text=text,
            attachments=await self.intake.attachments(shared),
            event_key=key,
        )

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]) -> None:
        if event.get("subtype") not in (None, "file_share", "thread_broadcast"):
            return  # edits, deletions, joins, …
        user = event.get("user")
        if event.get("bot_id") or not user or user == context.get("bot_user_id"):
            return
        key = body.get("event_id")
        parent = thread_of(event)
        channel = str(event.get("channel") or "")
        self.intake.note_recipient(body, channel, parent or str(event.get("ts") or ""), str(user))
        if parent is not None and event.get("channel_type") == "im":
            # The assistant's DM threads: the first message in one is a request, the rest feedback.
            bot_user_id = context.get("bot_user_id")
            await self.intake.submit(key, self._dm_thread(event, parent, key, bot_user_id), body)
        elif parent is not None:
            text = strip_mention(event.get("text") or "", context.get("bot_user_id"))
            await self.intake.submit(key, self._reply(event, parent, text, key), body)
        elif event.get("channel_type") == "im":
            await self.intake.submit(key, self._request(event, key, context.get("bot_user_id")), body)
        # top-level channel messages without a mention are not for us (mentions come as app_mention)

    async def _dm_thread(
        self, event: dict[str, Any], parent: str, key: str | None, bot_user_id: str | None
    ) -> Event | None:
        channel = str(event["channel"])
        find = self.intake.find
        project = await find(Locator(thread=ThreadRef(PLATFORM, channel, parent))) if find is not None else True
        if project is not None:
            return await self._reply(event, parent, strip_mention(event.get("text") or "", bot_user_id), key)
        request = await self._request(event, key, bot_user_id)
        if isinstance(request, RequestPosted):
            origin = MessageRef(PLATFORM, channel, str(event["ts"]), thread_id=parent)
            return RequestPosted(
                origin=origin,
                actor=request.actor,
                text=request.text,
                attachments=request.attachments,
                event_key=key,
                thread=ThreadRef(PLATFORM, channel, parent),
            )
        return request

    async def _reply(self, event: dict[str, Any], parent: str, text: str, key: str | None) -> Event | None:
        names = [f.get("name", "file") for f in event.get("files") or []]
        if names:
            text = (text + "\n\n(attached: " + ", ".join(names) + ")").strip()
        if not text:
            return None
        actor = await self.intake.actor(str(event["user"]))
        self.intake.platform.note_speaker(str(event["channel"]), parent, actor.display)
        return ThreadReply(
            locator=Locator(thread=ThreadRef(PLATFORM, str(event["channel"]), parent)),
            actor=actor,
            text=text,
            message_id=str(event["ts"]),
            event_key=key,
        )

    async def on_reaction(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        name = str(event.get("reaction", "")).split("::")[0]  # `::skin-tone-2` is the same reaction
        outcome = emoji_outcome(REACTION_EMOJI.get(name, ""))
        item = event.get("item") or {}
        if outcome is None or item.get("type") != "message" or not event.get("user"):
            return
        message = MessageRef(PLATFORM, str(item["channel"]), str(item["ts"]))
        key = body.get("event_id")

        async def build() -> Event:
            actor = await self.intake.actor(str(event["user"]))
            return DecisionSignal(
                locator=Locator(message=message), actor=actor, outcome=outcome, via="reaction", event_key=key
            )

        await self.intake.submit(key, build(), body)

    async def on_other_event(self) -> None:
        return None
