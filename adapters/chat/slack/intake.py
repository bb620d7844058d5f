"""What every Slack listener shares: acknowledged work handed on, actors, files, rooted requests.

Every listener acknowledges Slack first (events are auto-acked by bolt before the listener runs;
commands, actions and views call `ack()` at once) and hands the work to `submit`, so Slack gets its
answer well inside 3 seconds. Each event carries an `event_key` (the Events API `event_id`, or a
stable id of the click or form), and the workflow drops a key it has already seen: Slack's retries
and Socket Mode redeliveries never make a second project or a second revision, across processes.
A small in-process memory of recent keys spares the database the common case.

The listeners themselves: `events.py` (mentions, messages, reactions), `commands.py` (slash commands
and the message shortcut), `interactivity.py` (buttons and forms).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from adapters.chat.common import files
from adapters.chat.slack.people import UserGroups, configured_groups
from adapters.chat.slack.platform import PLATFORM, SlackPlatform
from bot.config import CATEGORIES
from bot.errors import DraftloopError
from bot.events import Actor, Attachment, Event, RequestPosted
from bot.identity import warn_config
from bot.recent import RecentKeys
from bot.settings import Settings

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None]], Any]
Handle = Callable[[Event], Awaitable[None]]
Work = Coroutine[Any, Any, Event | None]


class SlackIntake:
    """Translates Slack traffic into core events and hands them to the workflow, after the ack."""

    def __init__(self, *, platform: SlackPlatform, settings: Settings, spawn: Spawn, handle: Handle) -> None:
        self.platform = platform
        self.settings = settings
        self.spawn = spawn
        self.handle = handle
        self.recent: RecentKeys[str] = RecentKeys()
        self.groups = UserGroups(platform, configured_groups(settings))
        warn_config(settings.file, PLATFORM)
        self.categories = tuple(dict.fromkeys((*CATEGORIES, *settings.file.categories)))

    def submit(self, key: str | None, work: Work) -> None:
        """Run `work` (which builds the event) and then the workflow, after the ack."""
        if key is not None and not self.recent.first_time(key):
            work.close()
            log.info("slack: dropped a redelivery of %s", key)
            return
        self.spawn(self._run(work))

    async def _run(self, work: Work) -> None:
        try:
            event = await work
            if event is not None:
                await self.handle(event)
        except DraftloopError as exc:
            log.warning("slack: %s", exc)
        except Exception:
            log.exception("slack: an event could not be handled")

    async def actor(self, user_id: str, name: str = "") -> Actor:
        # `name` (a payload's user.name / user_name) is shown, never matched: permissions compare ids.
        roles = await self.groups.of(user_id) if self.groups.groups else frozenset()
        return Actor(PLATFORM, user_id, name=name, roles=roles)

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
