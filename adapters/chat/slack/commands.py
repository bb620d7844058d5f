"""Slack slash commands and the message shortcut → core events.

`/draft brief` starts a request (its root message is posted for it); `/draft` alone opens the form.
`/draftloop help|status [N]|digest` runs a command. "Draft from message" makes a message a request.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.app.async_app import AsyncApp

from adapters.chat.slack import forms
from adapters.chat.slack.events import COMMANDS
from adapters.chat.slack.intake import SlackIntake, strip_mention, thread_of, unescape
from adapters.chat.slack.platform import PLATFORM
from bot.events import CommandInvoked, Event, Locator, MessageRef, RequestPosted, ThreadRef

log = logging.getLogger(__name__)


class CommandListeners:
    def __init__(self, intake: SlackIntake) -> None:
        self.intake = intake

    def register(self, app: AsyncApp) -> None:
        app.command("/draft")(self.on_draft_command)
        app.command("/draftloop")(self.on_draftloop_command)
        app.shortcut(forms.SHORTCUT)(self.on_shortcut)

    async def on_draft_command(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        text = unescape(str(body.get("text") or "")).strip()
        channel = str(body["channel_id"])
        await ack()
        if not text:
            view = forms.draft_form(channel_id=channel, categories=self.intake.categories)
            try:
                await self.intake.platform.client.views_open(trigger_id=body["trigger_id"], view=view)
            except Exception as exc:  # noqa: BLE001 - tell the user instead of failing silently
                log.warning("slack: views.open failed: %s", type(exc).__name__)
                await respond(text="Could not open the form; try `/draft your request` instead.")
            return
        key = f"cmd:{body.get('trigger_id')}"
        work = self.intake.rooted_request(
            channel=channel, user=str(body["user_id"]), text=text, key=key, respond=respond
        )
        await self.intake.submit(key, work, body)

    async def on_draftloop_command(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        words = str(body.get("text") or "").split()
        name = words[0].lower() if words and words[0].lower() in COMMANDS else "help"
        args = tuple(words[1:])
        locator = None
        if name == "status" and args and args[0].lstrip("#").isdigit():
            locator = Locator(number=int(args[0].lstrip("#")))
        reply_to = ThreadRef(PLATFORM, str(body["channel_id"]), "")
        key = f"cmd:{body.get('trigger_id')}"

        async def build() -> Event:
            actor = await self.intake.actor(str(body["user_id"]), str(body.get("user_name") or ""))
            return CommandInvoked(name, actor, reply_to=reply_to, args=args, locator=locator, event_key=key)

        await self.intake.submit(key, build(), body)

    async def on_shortcut(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        message = body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or "")
        if not channel or not message.get("ts"):
            return
        key = f"shortcut:{channel}:{message['ts']}"

        async def build() -> Event:
            return RequestPosted(
                origin=MessageRef(PLATFORM, channel, str(message["ts"]), thread_id=thread_of(message)),
                actor=await self.intake.actor(str(body["user"]["id"]), str(body["user"].get("name") or "")),
                text=strip_mention(str(message.get("text") or ""), None),
                attachments=await self.intake.attachments(message.get("files") or []),
                event_key=key,
            )

        await self.intake.submit(key, build(), body)
