"""Bolt listeners: Slack events, commands, shortcuts and interactivity → `bot.events` objects.

Every listener acknowledges Slack first (events are auto-acked by bolt before the listener runs;
commands, actions and views call `ack()` at once) and hands the work to `spawn`, so Slack gets its
answer well inside 3 seconds. Each event carries an `event_key` (the Events API `event_id`, or a
stable id of the click or form), and the workflow drops a key it has already seen: Slack's retries
and Socket Mode redeliveries never make a second project or a second revision, across processes.
A small in-process memory of recent keys spares the database the common case.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.app.async_app import AsyncApp

from adapters.chat.slack import blocks as sb
from adapters.chat.slack.platform import PLATFORM, SlackPlatform
from bot.config import CATEGORIES
from bot.errors import DraftloopError
from bot.events import (
    Actor,
    Attachment,
    CommandInvoked,
    DecisionSignal,
    Event,
    Locator,
    MessageRef,
    Outcome,
    RequestPosted,
    ThreadRef,
    ThreadReply,
)
from bot.identity import entry_id, is_slack_id, warn_config
from bot.settings import Settings

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None]], Any]
Handle = Callable[[Event], Awaitable[None]]

TEXT_FILES = {"txt", "text", "md", "markdown", "csv", "json", "tsv"}
MAX_FILE_BYTES = 2_000_000
MAX_FILE_CHARS = 50_000
DECISION_REACTIONS = {
    "white_check_mark": Outcome.ACCEPT,
    "heavy_check_mark": Outcome.ACCEPT,
    "x": Outcome.REJECT,
}
COMMANDS = ("help", "status", "digest")
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


class RecentKeys:
    """A bounded memory of keys seen in this process (the database is the real guard)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def first_time(self, key: str) -> bool:
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        if len(self._keys) > self.size:
            self._keys.popitem(last=False)
        return True


class UserGroups:
    """Slack user groups named in the config (`expert_roles`, S… ids) → the members, cached."""

    def __init__(self, platform: SlackPlatform, groups: set[str], ttl: float = 300.0) -> None:
        self.platform = platform
        self.groups = groups
        self.ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def of(self, user_id: str) -> frozenset[str]:
        found = set()
        for group in self.groups:
            members = await self._members(group)
            if user_id in members:
                found.add(group)
        return frozenset(found)

    async def _members(self, group: str) -> frozenset[str]:
        now = time.monotonic()
        cached = self._cache.get(group)
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        try:
            resp = await self.platform.client.usergroups_users_list(usergroup=group)
            members = frozenset(resp.get("users") or ())
        except Exception as exc:  # noqa: BLE001 - a lookup failure only means "no group roles"
            log.warning("slack: usergroups.users.list %s failed: %s", group, type(exc).__name__)
            members = cached[1] if cached else frozenset()
        self._cache[group] = (now, members)
        return members


def _configured_groups(settings: Settings) -> set[str]:
    """Slack user groups (S… ids) the config names as experts or admins: their members are looked up."""
    cfg = settings.file
    entries = [*cfg.admins, *cfg.slack.admins]
    for cat in cfg.categories.values():
        entries += [*cat.experts, *cat.expert_roles]
    return {entry_id(e) for e in entries if is_slack_id(e) and entry_id(e).startswith("S")}


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


def _thread_of(event: dict[str, Any]) -> str | None:
    """The parent ts when the event is a reply inside a thread, else None."""
    thread_ts = event.get("thread_ts")
    return str(thread_ts) if thread_ts and thread_ts != event.get("ts") else None


class SlackEvents:
    """Translates Slack traffic into core events and hands them to the workflow."""

    def __init__(self, *, platform: SlackPlatform, settings: Settings, spawn: Spawn, handle: Handle) -> None:
        self.platform = platform
        self.settings = settings
        self.spawn = spawn
        self.handle = handle
        self.recent = RecentKeys()
        self.aside = settings.file.workflow.aside_marker
        self.groups = UserGroups(platform, _configured_groups(settings))
        warn_config(settings.file, PLATFORM)
        self.categories = tuple(dict.fromkeys((*CATEGORIES, *settings.file.categories)))

    # ------------------------------------------------------------------ plumbing

    def register(self, app: AsyncApp) -> None:
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.event("reaction_added")(self.on_reaction)
        app.command("/draft")(self.on_draft_command)
        app.command("/draftloop")(self.on_draftloop_command)
        app.shortcut(sb.SHORTCUT)(self.on_shortcut)
        app.action(sb.ACTION_ACCEPT)(self.on_decision_button)
        app.action(sb.ACTION_REJECT)(self.on_decision_button)
        app.action(sb.ACTION_CHANGES)(self.on_changes_button)
        app.view(sb.DRAFT_FORM)(self.on_draft_form)
        app.view(sb.CHANGES_FORM)(self.on_changes_form)
        # Events we do not act on are still answered 200, so Slack does not retry them.
        app.event(re.compile(".*"))(self.on_other_event)

    def _submit(self, key: str | None, work: Coroutine[Any, Any, Event | None]) -> None:
        """Run `work` (which builds the event) and then the workflow, after the ack."""
        if key is not None and not self.recent.first_time(key):
            work.close()
            log.info("slack: dropped a redelivery of %s", key)
            return
        self.spawn(self._run(work))

    async def _run(self, work: Coroutine[Any, Any, Event | None]) -> None:
        try:
            event = await work
            if event is not None:
                await self.handle(event)
        except DraftloopError as exc:
            log.warning("slack: %s", exc)
        except Exception:
            log.exception("slack: an event could not be handled")

    async def _actor(self, user_id: str, name: str = "") -> Actor:
        # `name` (a payload's user.name / user_name) is shown, never matched: permissions compare ids.
        roles = await self.groups.of(user_id) if self.groups.groups else frozenset()
        return Actor(PLATFORM, user_id, name=name, roles=roles)

    # ------------------------------------------------------------------ events

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]) -> None:
        if event.get("bot_id") or not event.get("user"):
            return
        if _thread_of(event):
            return  # a mention inside a thread arrives as a message event too: a thread reply
        self._submit(body.get("event_id"), self._request(event, body.get("event_id"), context.get("bot_user_id")))

    async def _request(self, event: dict[str, Any], key: str | None, bot_user_id: str | None) -> Event:
        channel, ts = str(event["channel"]), str(event["ts"])
        text = strip_mention(event.get("text") or "", bot_user_id)
        actor = await self._actor(str(event["user"]))
        here = ThreadRef(PLATFORM, channel, ts)
        files = event.get("files") or []
        words = text.split()
        if not files and (not words or (len(words) == 1 and words[0].lower() in COMMANDS)):
            name = words[0].lower() if words else "help"
            return CommandInvoked(name, actor, reply_to=here, event_key=key)
        return RequestPosted(
            origin=MessageRef(PLATFORM, channel, ts),
            actor=actor,
            text=text,
            attachments=await self._attachments(files),
            event_key=key,
        )

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]) -> None:
        if event.get("subtype") not in (None, "file_share", "thread_broadcast"):
            return  # edits, deletions, joins, …
        user = event.get("user")
        if event.get("bot_id") or not user or user == context.get("bot_user_id"):
            return
        key = body.get("event_id")
        parent = _thread_of(event)
        if parent is not None:
            text = strip_mention(event.get("text") or "", context.get("bot_user_id"))
            if self.aside and text.startswith(self.aside):
                return
            self._submit(key, self._reply(event, parent, text, key))
        elif event.get("channel_type") == "im":
            self._submit(key, self._request(event, key, context.get("bot_user_id")))
        # top-level channel messages without a mention are not for us (mentions come as app_mention)

    async def _reply(self, event: dict[str, Any], parent: str, text: str, key: str | None) -> Event | None:
        names = [f.get("name", "file") for f in event.get("files") or []]
        if names:
            text = (text + "\n\n(attached: " + ", ".join(names) + ")").strip()
        if not text:
            return None
        channel = str(event["channel"])
        return ThreadReply(
            locator=Locator(thread=ThreadRef(PLATFORM, channel, parent)),
            actor=await self._actor(str(event["user"])),
            text=text,
            message_id=str(event["ts"]),
            event_key=key,
        )

    async def on_reaction(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        outcome = DECISION_REACTIONS.get(str(event.get("reaction", "")).split("::")[0])
        item = event.get("item") or {}
        if outcome is None or item.get("type") != "message" or not event.get("user"):
            return
        message = MessageRef(PLATFORM, str(item["channel"]), str(item["ts"]))

        async def build() -> Event:
            actor = await self._actor(str(event["user"]))
            return DecisionSignal(
                locator=Locator(message=message),
                actor=actor,
                outcome=outcome,
                via="reaction",
                event_key=body.get("event_id"),
            )

        self._submit(body.get("event_id"), build())

    async def on_other_event(self) -> None:
        return None

    # ------------------------------------------------------------------ files

    async def _attachments(self, files: list[dict[str, Any]]) -> tuple[Attachment, ...]:
        out = []
        for f in files[:10]:
            name = str(f.get("name") or f.get("title") or "file")
            size = int(f.get("size") or 0)
            mimetype = str(f.get("mimetype") or "")
            kind = str(f.get("filetype") or name.rsplit(".", 1)[-1]).lower()
            text = None
            url = f.get("url_private_download") or f.get("url_private")
            readable = kind in TEXT_FILES or kind == "pdf" or mimetype.startswith("text/")
            if url and readable and size <= MAX_FILE_BYTES:
                text = await self._read_file(str(url), kind)
            out.append(Attachment(filename=name, text=text, size=size, mimetype=mimetype))
        return tuple(out)

    async def _read_file(self, url: str, kind: str) -> str | None:
        try:
            data = await self.platform.download(url, max_bytes=MAX_FILE_BYTES)
        except DraftloopError as exc:
            log.warning("slack: %s", exc)
            return None
        if kind == "pdf":
            return _pdf_text(data)
        return data.decode("utf-8", errors="replace")[:MAX_FILE_CHARS]

    # ------------------------------------------------------------------ commands

    async def on_draft_command(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        text = unescape(str(body.get("text") or "")).strip()
        channel = str(body["channel_id"])
        await ack()
        if not text:
            view = sb.draft_form(channel_id=channel, categories=self.categories)
            try:
                await self.platform.client.views_open(trigger_id=body["trigger_id"], view=view)
            except Exception as exc:  # noqa: BLE001 - tell the user instead of failing silently
                log.warning("slack: views.open failed: %s", type(exc).__name__)
                await respond(text="Could not open the form; try `/draft your request` instead.")
            return
        user = str(body["user_id"])
        key = f"cmd:{body.get('trigger_id')}"
        self._submit(key, self._rooted_request(channel=channel, user=user, text=text, key=key, respond=respond))

    async def _rooted_request(
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
        """A request that has no message of its own: post one, and make it the project's thread."""
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
            actor=await self._actor(user),
            text=text,
            category=category,
            deadline=deadline,
            stated_minutes=minutes,
            event_key=key,
        )

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
            actor = await self._actor(str(body["user_id"]), str(body.get("user_name") or ""))
            return CommandInvoked(name, actor, reply_to=reply_to, args=args, locator=locator, event_key=key)

        self._submit(key, build())

    async def on_shortcut(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        message = body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or "")
        if not channel or not message.get("ts"):
            return
        key = f"shortcut:{channel}:{message['ts']}"

        async def build() -> Event:
            text = strip_mention(str(message.get("text") or ""), None)
            return RequestPosted(
                origin=MessageRef(PLATFORM, channel, str(message["ts"]), thread_id=_thread_of(message)),
                actor=await self._actor(str(body["user"]["id"]), str(body["user"].get("name") or "")),
                text=text,
                attachments=await self._attachments(message.get("files") or []),
                event_key=key,
            )

        self._submit(key, build())

    # ------------------------------------------------------------------ interactivity

    async def on_decision_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        number = _number(action.get("value"))
        if number is None:
            return
        outcome = Outcome.ACCEPT if action["action_id"] == sb.ACTION_ACCEPT else Outcome.REJECT
        channel, thread = _where(body)
        key = f"action:{channel}:{action.get('action_ts')}:{body['user']['id']}"

        async def build() -> Event:
            return DecisionSignal(
                locator=Locator(number=number),
                actor=await self._actor(str(body["user"]["id"]), str(body["user"].get("name") or "")),
                outcome=outcome,
                via="button",
                event_key=key,
                reply_to=ThreadRef(PLATFORM, channel, thread) if channel else None,
            )

        self._submit(key, build())

    async def on_changes_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        number = _number(action.get("value"))
        if number is None:
            return
        channel, thread = _where(body)
        view = sb.changes_form(number=number, channel_id=channel, thread_ts=thread)
        try:
            await self.platform.client.views_open(trigger_id=body["trigger_id"], view=view)
        except Exception as exc:  # noqa: BLE001
            log.warning("slack: views.open failed: %s", type(exc).__name__)

    async def on_draft_form(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = sb.form_values(view)
        checked = await _checked_form(ack, values, "brief", "Write what the agent should do.")
        if checked is None:
            return
        brief, minutes = checked
        meta = _meta(view)
        category = values.get("category")
        key = f"view:{view.get('id')}"
        work = self._rooted_request(
            channel=str(meta.get("channel") or ""),
            user=str(body["user"]["id"]),
            text=brief,
            key=key,
            category=None if category in (None, "auto") else category,
            deadline=values.get("deadline"),
            minutes=minutes,
        )
        self._submit(key, work)

    async def on_changes_form(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = sb.form_values(view)
        checked = await _checked_form(ack, values, "feedback", "Say what should change.")
        if checked is None:
            return
        feedback, minutes = checked
        meta = _meta(view)
        number = _number(meta.get("number"))
        if number is None:
            return
        user = str(body["user"]["id"])
        key = f"view:{view.get('id')}"
        self._submit(key, self._form_feedback(number, meta, user, feedback, minutes, key))

    async def _form_feedback(
        self, number: int, meta: dict[str, Any], user: str, feedback: str, minutes: int | None, key: str
    ) -> Event:
        """Show the form's feedback in the thread (so the thread tells the whole story), then hand it on."""
        message_id = ""
        channel, thread = str(meta.get("channel") or ""), str(meta.get("thread") or "")
        if channel and thread:
            spent = f" ({minutes} min)" if minutes else ""
            quoted = "\n".join("> " + line for line in feedback[:2500].splitlines())
            try:
                # The person's mention is draftloop's own choice, so it stays live past the neutralising.
                ref = await self.platform.post_attributed(
                    channel, f"asked for changes{spent}:\n{quoted}", user=user, thread_ts=thread
                )
                message_id = ref.message_id
            except DraftloopError as exc:
                log.warning("slack: %s", exc)
        return ThreadReply(
            locator=Locator(number=number),
            actor=await self._actor(user),
            text=feedback,
            message_id=message_id,
            stated_minutes=minutes,
            event_key=key,
        )


# ---------------------------------------------------------------------- small helpers


def _number(value: Any) -> int | None:
    try:
        number = int(str(value).lstrip("#"))
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _minutes(value: str | None) -> int | None:
    """None when empty, -1 when not a whole non-negative number."""
    if value is None or not str(value).strip():
        return None
    try:
        minutes = int(str(value).strip())
    except ValueError:
        return -1
    return minutes if 0 <= minutes <= 24 * 60 else -1


async def _checked_form(ack: Any, values: dict[str, Any], field: str, missing: str) -> tuple[str, int | None] | None:
    """Validate a form's text field and optional minutes; answer Slack with the errors, or ack."""
    text = (values.get(field) or "").strip()
    minutes = _minutes(values.get("minutes"))
    if not text:
        await ack(response_action="errors", errors={field: missing})
        return None
    if minutes == -1:
        await ack(response_action="errors", errors={"minutes": "A whole number of minutes, please."})
        return None
    await ack()
    return text, minutes


def _meta(view: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _where(body: dict[str, Any]) -> tuple[str, str]:
    """(channel, thread ts) of the message whose button was clicked."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
    thread = str(message.get("thread_ts") or container.get("thread_ts") or message.get("ts") or "")
    return channel, thread


def _pdf_text(data: bytes) -> str | None:
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        text = "\n".join((page.extract_text() or "") for page in reader.pages[:50])
    except Exception as exc:  # noqa: BLE001 - a broken PDF is listed, not read
        log.warning("slack: could not read a PDF: %s", type(exc).__name__)
        return None
    return text[:MAX_FILE_CHARS] or None
