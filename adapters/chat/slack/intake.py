"""What every Slack listener shares: deliveries stored then handed on, actors, files, rooted requests.

Record, then acknowledge: bolt runs each listener before it answers Slack (`process_before_response`),
and a listener that acts hands its work to `submit`, which stores the delivery (its payload, under
the event's key) in the inbox (bot/loop/inbox.py) and only then lets the answer go. When the store
fails the answer is a 500 over HTTP, and no ack in Socket Mode: Slack sends the event again. The
work itself (building the event, the workflow) runs after the answer, so Slack still gets it well
inside 3 seconds. A stored delivery whose handling did not finish is replayed by the sweeper
through `replay`, as the same listener call with the same body.

Each event carries an `event_key` (the Events API `event_id`, or a stable id of the click or form):
the inbox's unique key makes the first process to store a delivery the one that handles it, and
the workflow drops a key whose effect is stored, so Slack's retries and Socket Mode redeliveries
never make a second project or a second revision, across processes. A small in-process memory of
recent keys spares the database the common case.

The listeners themselves: `events.py` (mentions, messages, reactions), `commands.py` (slash commands
and the message shortcut), `interactivity.py` (buttons and forms).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any

from adapters.chat.common import files
from adapters.chat.slack.people import UserGroups, configured_groups, names as user_names
from adapters.chat.slack.platform import PLATFORM, SlackPlatform
from bot.errors import DraftloopError
from bot.events import Actor, Attachment, Event, Locator, RequestPosted
from bot.identity import warn_config
from bot.loop.inbox import Delivery, Inbox
from bot.recent import RecentKeys
from bot.settings import Settings

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None]], Any]
Handle = Callable[[Event, Delivery], Awaitable[None]]
Work = Coroutine[Any, Any, Event | None]

# Set while the sweeper replays a stored delivery through bolt: it is stored already.
REPLAYING: ContextVar[bool] = ContextVar("draftloop_slack_replaying", default=False)


class SlackIntake:
    """Translates Slack traffic into core events and hands them to the workflow, after the ack."""

    def __init__(
        self, *, platform: SlackPlatform, settings: Settings, spawn: Spawn, handle: Handle, inbox: Inbox
    ) -> None:
        self.platform = platform
        self.settings = settings
        self.spawn = spawn
        self.handle = handle
        self.inbox = inbox
        self.recent: RecentKeys[str] = RecentKeys()
        self.groups = UserGroups(platform, configured_groups(settings))
        warn_config(settings.file, PLATFORM)
        self.categories = settings.file.category_names
        # The core's lookup of a project (Workflow.find), for the few listeners that must know whether
        # a thread is a project's before they build their event (home.py sets it).
        self.find: Callable[[Locator], Awaitable[Any]] | None = None

    def note_recipient(self, body: dict[str, Any], channel: str, thread_ts: str, user: str) -> None:
        """Remember who spoke last in a thread: a draft streamed there is for them (platform.py)."""
        team = body.get("team_id") or (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
        self.platform.note_recipient(channel, thread_ts, user, str(team) if team else None)

    async def submit(self, key: str | None, work: Work, body: dict[str, Any]) -> None:
        """Store the delivery, then run `work` (which builds the event) and the workflow after the
        answer. Raises NotRecorded when the delivery cannot be stored: Slack is then not acked."""
        if REPLAYING.get():
            self.spawn(self._run(key, work, Delivery.REPLAYED))
            return
        if key is None:
            self.spawn(self._run(key, work, Delivery.DIRECT))
            return
        if key in self.recent:
            work.close()
            log.info("slack: dropped a redelivery of %s", key)
            return
        try:
            fresh = await self.inbox.store(PLATFORM, key, json.dumps(body, separators=(",", ":")))
        except Exception:
            work.close()
            raise
        self.recent.add(key)
        if not fresh:
            work.close()
            log.info("slack: %s is stored already (a redelivery, or another process has it)", key)
            return
        self.spawn(self._run(key, work, Delivery.STORED))

    async def _run(self, key: str | None, work: Work, delivery: Delivery) -> None:
        if key is None or delivery is Delivery.DIRECT:
            await self._handle(key, work, delivery)
            return
        # Held while this process reads and handles it, however slow: no sweeper replays it meanwhile.
        async with self.inbox.held(PLATFORM, key):
            await self._handle(key, work, delivery)

    async def _handle(self, key: str | None, work: Work, delivery: Delivery) -> None:
        stored = key is not None and delivery is not Delivery.DIRECT
        try:
            event = await work
        except Exception as exc:
            # Building the event failed (the Slack API, a download): a stored delivery is tried again.
            if isinstance(exc, DraftloopError):
                log.warning("slack: %s", exc)
            else:
                log.exception("slack: an event could not be read")
            if stored and key is not None:
                await self.inbox.retry_soon(PLATFORM, key)
            return
        if event is None:
            if stored and key is not None:
                await self.inbox.finish(PLATFORM, key)  # nothing to do: nothing to replay
            return
        try:
            await self.handle(event, delivery)
        except Exception:
            log.exception("slack: an event could not be handled")

    async def actor(self, user_id: str, name: str = "") -> Actor:
        # A name is shown, never matched: permissions compare ids. Slack's own name for the person
        # comes first, so one person reads the same however they acted (a payload's user.name is the
        # old username); `name` stands in when the lookup fails, and the id when there is neither.
        looked_up = user_names(self.platform).of(user_id)
        if self.groups.groups:
            shown, roles = await asyncio.gather(looked_up, self.groups.of(user_id))
        else:
            shown, roles = await looked_up, frozenset()
        return Actor(PLATFORM, user_id, name=shown or name, roles=roles)

    async def attachments(self, shared: list[dict[str, Any]]) -> tuple[Attachment, ...]:
        """Slack's file objects → attachments; readable ones (adapters/chat/common/files.py) are read."""
        out = []
        for f in shared[: files.MAX_FILES]:
            name = str(f.get("name") or f.get("title") or "file")
            size = int(f.get("size") or 0)
            mimetype = str(f.get("mimetype") or "")
            kind = files.readable(name, size, mimetype, str(f.get("filetype") or ""))
            url = f.get("url_private_download") or f.get("url_private")
            text = await self._read(str(url), kind) if url and kind else None
            out.append(Attachment(filename=name, text=text, size=size, mimetype=mimetype))
        return tuple(out)

    async def _read(self, url: str, kind: files.Kind) -> str | None:
        try:
            data = await self.platform.download(url, max_bytes=files.max_bytes(kind))
        except DraftloopError as exc:
            log.warning("slack: %s", exc)
            return None
        return files.file_text(data, kind)

    async def rooted_request(
        self,
        *,
        channel: str,
        user: str,
        text: str,
        key: str,
        respond: Any = None,
        category: str | None = None,
        deadline: str | None = None,
        minutes: int | None = None,
    ) -> Event | None:
        """A request that has no message of its own (a command, a form): post one, and make it the thread."""
        quoted = "\n".join("> " + line for line in text[:2500].splitlines())
        extra = f" ({category})" if category else ""
        try:
            root = await self.platform.post_root(channel, f"asked for a draft{extra}:\n{quoted}", requester=user)
        except DraftloopError as exc:
            log.warning("slack: %s", exc)
            if respond is not None:
                await respond(text="I could not post in this channel. Invite me with `/invite @draftloop` and retry.")
            return None
        self.platform.note_recipient(channel, root.message_id, user, None)
        return RequestPosted(
            origin=root,
            actor=await self.actor(user),
            text=text,
            category=category,
            deadline=deadline,
            stated_minutes=minutes,
            event_key=key,
        )


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """Remove the bot's own mention(s), undo Slack's entity escaping and tidy the whitespace."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    return re.sub(r"[ \t]+", " ", unescape(text)).strip()


def unescape(text: str) -> str:
    """Slack sends typed `<`, `>`, `&` as entities; the model and the store get what the person typed.

    Safe because every outbound text is escaped whole again at the platform's boundary.
    """
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def thread_of(event: dict[str, Any]) -> str | None:
    """The parent ts when the event is a reply inside a thread, else None."""
    thread_ts = event.get("thread_ts")
    return str(thread_ts) if thread_ts and thread_ts != event.get("ts") else None
