"""The Slack ChatPlatform: the outbound side, over slack_sdk's AsyncWebClient.

The client talks to `SLACK_API_URL` (default Slack's own) and retries on its own: 429 after
Retry-After, 500/503 and connection errors with back-off (slack_sdk's retry handlers). What still
fails is raised as `PlatformError`, never as a raw SDK exception.

Every message goes out neutralised (slack_safe): text from people and models is escaped in `text`,
in blocks, in summaries and file titles, so only the experts' configured mentions and the requester's
own mention can notify anyone; `chat.*` calls carry `parse="none"` and `link_names=False`.
"""

from __future__ import annotations

import logging
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
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=retries),
            AsyncRateLimitErrorRetryHandler(max_retry_count=retries),
            AsyncServerErrorRetryHandler(max_retry_count=retries),
        ],
    )


class SlackPlatform:
    """ChatPlatform over the Slack Web API. Threads are (channel, ts of the request)."""

    name = PLATFORM
    limits = SLACK_LIMITS

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

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
        text, blocks = self._render(reply)
        resp = await self._post_message(thread.channel, thread.thread_id or None, text=text, blocks=blocks)
        ref = MessageRef(PLATFORM, thread.channel, str(resp["ts"]), thread_id=thread.thread_id or None)
        for filename, data in reply.files:
            await self._upload(thread, filename=filename, content=data, title=filename)
        return ref

    async def edit(self, message: MessageRef, reply: Reply) -> None:
        text, blocks = self._render(reply)
        await self._call(
            "chat.update", channel=message.channel, ts=message.message_id, text=text, blocks=blocks, **_PARSE_NONE
        )

    async def upload(self, thread: ThreadRef, *, filename: str, content: str, reply: Reply) -> MessageRef:
        """The draft as a Markdown file in the thread, then the summary message with the buttons."""
        title = slack_blocks.header_line(reply.header) if reply.header else filename
        await self._upload(thread, filename=filename, content=content.encode(), title=title)
        summary = reply.summary or reply.text
        text, blocks = slack_blocks.render(reply, text_override=summary)
        resp = await self._post_message(thread.channel, thread.thread_id or None, text=text, blocks=blocks)
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

    def _render(self, reply: Reply) -> tuple[str, list[dict[str, Any]]]:
        if reply.kind == ReplyKind.DIGEST and reply.data is not None:
            from bot.report.render import render_slack

            blocks = slack_safe.neutral_blocks(render_slack(reply.data)[: slack_blocks.MAX_BLOCKS])
            return slack_safe.cut(slack_blocks.to_mrkdwn(reply.text), slack_blocks.FALLBACK_CHARS), blocks
        return slack_blocks.render(reply)

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
