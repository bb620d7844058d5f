"""The Slack ChatPlatform: the outbound side, over slack_sdk's AsyncWebClient.

The client talks to `SLACK_API_URL` (default Slack's own) and retries on its own: 429 after
Retry-After, 500/503 and connection errors with back-off (slack_sdk's retry handlers). What still
fails is raised as `PlatformError`, never as a raw SDK exception.

Every message goes out neutralised (slack_safe): text from people and models is escaped in `text`,
in blocks, in summaries and file titles, so only the experts' configured mentions and the requester's
own mention can notify anyone; `chat.*` calls carry `parse="none"` and `link_names=False`.

The AI-app surface (docs/slack-notes.md), each part on while the workspace takes it (`Features`):
- status: when a request is acknowledged, or a revision's "Writing vN…" is shown, the thread shows
  "draftloop is drafting vN…" (`assistant.threads.setStatus`) until the draft starts to appear; a
  message posted in the thread clears it (Slack does), an edit clears it explicitly.
- native streaming (`streaming.py`): a draft's progress is one streamed message (`chat.startStream`,
  `appendStream`, and `stopStream` with the buttons), for threads whose recipient is known. Any refusal
  falls back to today's post-and-update on the same message, so nothing is lost or shown twice.
- drafts as `markdown` blocks when they fit, with 👍 / 👎 (`feedback_buttons`) above the controls.
- `show_private`: the `mine` list as an ephemeral message with links to each thread.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.chat.slack import blocks as slack_blocks, safe as slack_safe
from adapters.chat.slack.streaming import LASTING, NativeStreams, is_placeholder
from bot.errors import PlatformError
from bot.events import Actor, MessageRef, ThreadRef
from bot.ports import PlatformLimits
from bot.replies import Reply, ReplyKind

log = logging.getLogger(__name__)

PLATFORM = "slack"
DEFAULT_API_URL = "https://slack.com/api/"
ACK_REACTION = "eyes"
# Slack turns nothing in our text into a mention or a link by itself: what may ping is in the markup.
_PARSE_NONE: dict[str, Any] = slack_safe.POST_PARAMS

# Slack: chat.update is Tier 3 (~50/min) and chat.postMessage ~1/s per channel, so one progress
# message is edited at most every 1.2 s. Drafts longer than ~10k chars go out as a file (the
# blocks of one message stop at ~11k chars in total; see slack_blocks).
SLACK_LIMITS = PlatformLimits(
    max_message_chars=3900,
    max_inline_chars=10_000,
    min_edit_interval=1.2,
    buttons=True,
    reactions=True,
)


def make_client(token: str, *, base_url: str | None = None, retries: int = 3) -> AsyncWebClient:
    """An AsyncWebClient with the three retry handlers (the SDK's default has only the first)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url or DEFAULT_API_URL,
        timeout=30,
        # The SDK formats a debug line of every request and response (the whole JSON, blocks and
        # all) whenever its logger's *own* level is at most DEBUG, and its default logger has none
        # (NOTSET, 0): a third of a call's CPU. "slack_sdk" is the logger the log set-up keeps at
        # WARNING (bot/app/log_config.py), so the SDK's check sees that.
        logger=logging.getLogger("slack_sdk"),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=retries),
            AsyncRateLimitErrorRetryHandler(max_retry_count=retries),
            AsyncServerErrorRetryHandler(max_retry_count=retries),
        ],
    )


STATUS_LOADING = ("Reading the brief and the feedback…", "Writing v{version}…", "Checking it against the brief…")
RECIPIENTS = 5000  # threads whose last human speaker is remembered (for streaming to a channel)


@dataclass
class Features:
    """What this workspace takes. Each turns itself off for the process on a lasting refusal
    (LASTING); a passing one (a rate limit) falls back for that one message."""

    streaming: bool = True
    status: bool = True
    markdown: bool = True
    feedback: bool = True

    @classmethod
    def none(cls) -> Features:
        return cls(streaming=False, status=False, markdown=False, feedback=False)


class SlackPlatform:
    """ChatPlatform over the Slack Web API. Threads are (channel, ts of the request)."""

    name = PLATFORM
    limits = SLACK_LIMITS

    def __init__(self, client: AsyncWebClient, *, features: Features | None = None) -> None:
        self.client = client
        self.features = features or Features()
        self.streams = NativeStreams(self)
        # (channel, thread ts) → (user, team): who a streamed draft in that thread is for.
        self._recipients: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()
        self._status_on: set[tuple[str, str]] = set()
        self._speakers: dict[tuple[str, str], str] = {}
        self._team_url: str | None = None
        self.team: str | None = None  # the workspace's id, as the last event named it
        # Told the number of a project whose thread changed (a draft, a decision): the Home tab refreshes.
        self.on_change: Callable[[int], None] | None = None

    # ---- what the listeners tell the platform

    def note_recipient(self, channel: str, thread_ts: str, user: str, team: str | None) -> None:
        """The person a thread's next streamed draft is for (its last human speaker); `team` defaults
        to the workspace last seen."""
        self.team = team or self.team
        team = self.team
        if not channel or not thread_ts or not user or not team:
            return
        key = (channel, thread_ts)
        self._recipients[key] = (user, team)
        self._recipients.move_to_end(key)
        while len(self._recipients) > RECIPIENTS:
            self._recipients.popitem(last=False)

    def recipient(self, channel: str, thread_ts: str) -> tuple[str, str] | None:
        return self._recipients.get((channel, thread_ts))

    def note_speaker(self, channel: str, thread_ts: str, name: str) -> None:
        """The name of whose feedback a revision in that thread is drafted from (for its status)."""
        if name and (channel, thread_ts) in self._recipients:
            self._speakers[(channel, thread_ts)] = name
            while len(self._speakers) > RECIPIENTS:
                self._speakers.pop(next(iter(self._speakers)))

    def turn_off(self, feature: str, error: str) -> None:
        if getattr(self.features, feature):
            log.warning("slack: %s is off for this process (%s); using the plain path", feature, error)
            setattr(self.features, feature, False)

    # ---- ChatPlatform

    async def open_thread(self, origin: MessageRef, *, number: int, title: str) -> ThreadRef:
        """The request's own ts (or its thread's) is the thread; mark the request with 👀."""
        thread = ThreadRef(PLATFORM, origin.channel, origin.thread_id or origin.message_id)
        try:
            await self.client.reactions_add(channel=origin.channel, timestamp=origin.message_id, name=ACK_REACTION)
        except SlackApiError as exc:
            if exc.response.get("error") != "already_reacted":
                log.warning("slack: could not add the %s reaction: %s", ACK_REACTION, _error(exc))
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack: could not add the %s reaction: %s", ACK_REACTION, type(exc).__name__)
        return thread

    async def post(self, thread: ThreadRef, reply: Reply) -> MessageRef:
        if reply.kind == ReplyKind.PROGRESS and self.features.streaming:
            streamed = await self.streams.start(thread, reply)
            if streamed is not None:
                if is_placeholder(reply):
                    await self._set_status(thread.channel, thread.thread_id, reply)
                return streamed
        text, blocks = self.render(reply)
        resp = await self._post_message(thread.channel, thread.thread_id or None, text=text, blocks=blocks)
        self.spoke(thread.channel, thread.thread_id)
        ref = MessageRef(PLATFORM, thread.channel, str(resp["ts"]), thread_id=thread.thread_id or None)
        for filename, data in reply.files:
            await self._upload(thread, filename=filename, content=data, title=filename)
        if reply.kind == ReplyKind.ACK or (reply.kind == ReplyKind.PROGRESS and is_placeholder(reply)):
            await self._set_status(thread.channel, thread.thread_id, reply)
        self._changed(reply)
        return ref

    async def edit(self, message: MessageRef, reply: Reply) -> None:
        if await self.streams.edit(message, reply):
            self._changed(reply)
            return
        text, blocks = self.render(reply)
        try:
            await self.update(message, text, blocks)
        except PlatformError:
            # A stream this process did not start (a cycle resumed after a restart) takes no update
            # until it is stopped: stop it, and show the text in the same message.
            if not (self.features.streaming and await self.streams.stop_orphan(message)):
                raise
            await self.update(message, text, blocks)
        if not is_placeholder(reply):
            await self.clear_status(message.channel, message.thread_id)
        self._changed(reply)

    async def update(self, message: MessageRef, text: str, blocks: list[dict[str, Any]]) -> None:
        await self._call(
            "chat.update", channel=message.channel, ts=message.message_id, text=text, blocks=blocks, **_PARSE_NONE
        )

    async def upload(self, thread: ThreadRef, *, filename: str, content: str, reply: Reply) -> MessageRef:
        """The draft as a Markdown file in the thread, then the summary message with the buttons."""
        title = slack_blocks.header_line(reply.header) if reply.header else filename
        await self._upload(thread, filename=filename, content=content.encode(), title=title)
        summary = reply.summary or reply.text
        text, blocks = slack_blocks.render(reply, text_override=summary, feedback=self.features.feedback)
        resp = await self._post_message(thread.channel, thread.thread_id or None, text=text, blocks=blocks)
        self.spoke(thread.channel, thread.thread_id)
        self._changed(reply)
        return MessageRef(PLATFORM, thread.channel, str(resp["ts"]), thread_id=thread.thread_id or None)

    async def notify_private(self, thread: ThreadRef, actor: Actor, text: str) -> None:
        await self._call(
            "chat.postEphemeral",
            channel=thread.channel,
            user=actor.user_id,
            thread_ts=thread.thread_id or None,
            text=slack_safe.cut(slack_blocks.to_mrkdwn(text), slack_blocks.FALLBACK_CHARS),
            **_PARSE_NONE,
        )

    async def show_private(self, thread: ThreadRef, actor: Actor, reply: Reply) -> None:
        """One person's answer, rendered: the `mine` list with a link to each thread (ephemeral where
        asked, else in their DM with draftloop)."""
        from adapters.chat.slack.home_blocks import mine_blocks
        from bot.loop.commands import MineList

        blocks = mine_blocks(reply.data, await self.team_url()) if isinstance(reply.data, MineList) else []
        text = slack_safe.cut(slack_blocks.to_mrkdwn(reply.text), slack_blocks.FALLBACK_CHARS)
        params: dict[str, Any] = {"text": text, **({"blocks": blocks} if blocks else {}), **_PARSE_NONE}
        try:
            await self._call("chat.postEphemeral", channel=thread.channel, user=actor.user_id, **params)
        except PlatformError as exc:  # not in that channel (a DM, a channel without the bot): their DM
            log.info("slack: %s; answering in the person's DM instead", exc)
            await self._call("chat.postMessage", channel=actor.user_id, unfurl_links=False, **params)

    async def team_url(self) -> str | None:
        """The workspace's URL (auth.test, once), for links to threads."""
        if self._team_url is None:
            try:
                self._team_url = str((await self._call("auth.test")).get("url") or "")
            except PlatformError as exc:
                log.info("slack: %s; links to threads are left out", exc)
                self._team_url = ""
        return self._team_url or None

    # ---- status ("draftloop is drafting v2…")

    async def _set_status(self, channel: str, thread_ts: str, reply: Reply) -> None:
        if not self.features.status or not thread_ts or reply.header is None:
            return
        version = reply.header.version + 1  # the header names the version shown so far
        loading = [line.format(version=version) for line in STATUS_LOADING]
        status = f"is drafting v{version}…"
        speaker = self._speakers.get((channel, thread_ts)) if version > 1 else None
        if speaker:
            status = f"is drafting v{version} from {slack_safe.plain(speaker)[:40]}'s feedback…"
        if await self._status(channel, thread_ts, status, loading):
            self._status_on.add((channel, thread_ts))

    async def clear_status(self, channel: str, thread_ts: str | None) -> None:
        """Clear a status still shown (an edit does not clear it; a new message does, on its own)."""
        if thread_ts and (channel, thread_ts) in self._status_on:
            self._status_on.discard((channel, thread_ts))
            await self._status(channel, thread_ts, "", None)

    def spoke(self, channel: str, thread_ts: str | None) -> None:
        """The bot posted in the thread: Slack cleared its status."""
        if thread_ts:
            self._status_on.discard((channel, thread_ts))

    async def _status(self, channel: str, thread_ts: str, status: str, loading: list[str] | None) -> bool:
        """Best effort: a status is worth no failure of the loop."""
        try:
            await self.client.api_call(
                "assistant.threads.setStatus",
                json={
                    "channel_id": channel,
                    "thread_ts": thread_ts,
                    "status": status,
                    **({"loading_messages": loading} if loading else {}),
                },
            )
            return True
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in LASTING:
                self.turn_off("status", error)
            else:
                log.info("slack: status not shown: %s", _error(exc))
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            log.info("slack: status not shown: %s", type(exc).__name__)
        return False

    def _changed(self, reply: Reply) -> None:
        if self.on_change is not None and reply.header is not None and reply.kind != ReplyKind.PROGRESS:
            self.on_change(reply.header.number)

    # ---- helpers used by the event listeners

    async def post_root(self, channel: str, text: str, *, requester: str | None = None) -> MessageRef:
        """A top-level message that becomes a project's request (slash command, form).

        `text` is Markdown from the person (neutralised like any other); `requester`, a user id, is
        mentioned in front of it: the one mention of such a message, and draftloop's choice.
        """
        return await self.post_attributed(channel, text, user=requester)

    async def post_attributed(
        self, channel: str, text: str, *, user: str | None, thread_ts: str | None = None
    ) -> MessageRef:
        """`<@user> text`: what someone asked for or said, shown by draftloop (a request, a form's feedback)."""
        body = slack_blocks.to_mrkdwn(text)
        if user:
            body = f"{slack_safe.user(user)} {body}"
        resp = await self._post_message(channel, thread_ts, text=slack_safe.cut(body, slack_blocks.FALLBACK_CHARS))
        return MessageRef(PLATFORM, channel, str(resp["ts"]), thread_id=thread_ts)

    async def download(self, url: str, *, max_bytes: int = 5_000_000) -> bytes:
        """Fetch a `url_private` file with the bot token (same host rules as the API client)."""
        headers = {"Authorization": f"Bearer {self.client.token}"}
        timeout = aiohttp.ClientTimeout(total=30)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, headers=headers, allow_redirects=False) as resp,
            ):
                if resp.status != 200:
                    raise PlatformError(f"Slack file download answered HTTP {resp.status}")
                data = await resp.content.read(max_bytes + 1)
        except aiohttp.ClientError as exc:
            raise PlatformError(f"Slack file download failed: {type(exc).__name__}") from exc
        if len(data) > max_bytes:
            raise PlatformError("Slack file is too large to read")
        return data

    # ---- internals

    def render(self, reply: Reply) -> tuple[str, list[dict[str, Any]]]:
        if reply.kind == ReplyKind.DIGEST and reply.data is not None:
            from bot.report.render import render_slack

            blocks = slack_safe.neutral_blocks(render_slack(reply.data)[: slack_blocks.MAX_BLOCKS])
            return slack_safe.cut(slack_blocks.to_mrkdwn(reply.text), slack_blocks.FALLBACK_CHARS), blocks
        return slack_blocks.render(reply, markdown=self.features.markdown, feedback=self.features.feedback)

    async def _upload(self, thread: ThreadRef, *, filename: str, content: bytes, title: str) -> None:
        try:
            await self.client.files_upload_v2(
                channel=thread.channel,
                thread_ts=thread.thread_id or None,
                content=content,
                filename=filename,
                title=slack_safe.plain(title),
            )
        except SlackApiError as exc:
            raise PlatformError(f"Slack files_upload_v2 failed: {_error(exc)}") from exc
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            raise PlatformError(f"Slack files_upload_v2 failed: {type(exc).__name__}") from exc

    async def _post_message(self, channel: str, thread_ts: str | None, **params: Any) -> Any:
        return await self._call(
            "chat.postMessage",
            channel=channel,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            **_PARSE_NONE,
            **params,
        )

    async def call(self, method: str, **params: Any) -> Any:
        """A Web API call; raises SlackApiError (whose `error` says why) for the stream's fallbacks."""
        params = {k: v for k, v in params.items() if v is not None}
        return await self.client.api_call(method, json=params)

    async def _call(self, method: str, **params: Any) -> Any:
        params = {k: v for k, v in params.items() if v is not None}
        try:
            return await self.client.api_call(method, json=params)
        except SlackApiError as exc:
            raise PlatformError(f"Slack {method} failed: {_error(exc)}") from exc
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            raise PlatformError(f"Slack {method} failed: {type(exc).__name__}") from exc


def _error(exc: SlackApiError) -> str:
    status = getattr(exc.response, "status_code", "?")
    return f"{exc.response.get('error', 'error')} (HTTP {status})"
