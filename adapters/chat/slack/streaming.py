"""A draft streamed natively into one Slack message: `chat.startStream`, `appendStream`, `stopStream`.

The core shows a draft as it is written through the ChatPlatform it knows: it posts a progress
message, edits it with the text so far (no faster than `limits.min_edit_interval`), and edits it a
last time with the finished draft and its controls. Here those calls become one stream:

- the progress post starts the stream (the draft's header as a bold line, then the text so far);
- each progress edit appends what is new, whole lines only (a half-written link or token is never
  shown), and only while the new text extends what the stream shows;
- the finished draft stops the stream with what is left and the context line, 👍 / 👎 and the
  Accept / Request changes / Reject buttons as blocks.

The stream's ts is the message's id the core records, so reactions and links find the project as
they do for any draft. Any refusal (an unknown method, a missing scope, a rate limit, a stream Slack
stopped) falls back to today's path on the same message: the stream is stopped if it can be, and
`chat.update` shows the whole text with the buttons. Nothing is lost or shown twice: a message that
was never started is posted as usual; a started one is only ever updated. A finished text that no
longer extends what was streamed (a long draft moved to a file, a failure) is shown the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError

from adapters.chat.slack import blocks as slack_blocks, safe as slack_safe
from bot.events import MessageRef, ThreadRef
from bot.loop.streaming import CURSOR
from bot.replies import Reply, ReplyKind

log = logging.getLogger(__name__)

# A method the workspace does not have, or may not use: the feature is off for this process.
LASTING = frozenset(
    {
        "unknown_method",
        "not_allowed_token_type",
        "missing_scope",
        "feature_not_enabled",
        "method_deprecated",
        "team_not_allowed",
        "not_allowed",
        "access_denied",
    }
)


class HasFeedback(Protocol):
    @property
    def feedback(self) -> bool: ...


class StreamHost(Protocol):
    """What a stream needs of the platform (platform.py's SlackPlatform)."""

    @property
    def name(self) -> str: ...
    @property
    def features(self) -> HasFeedback: ...

    def recipient(self, channel: str, thread_ts: str) -> tuple[str, str] | None: ...
    def spoke(self, channel: str, thread_ts: str | None) -> None: ...
    def turn_off(self, feature: str, error: str) -> None: ...
    def render(self, reply: Reply) -> tuple[str, list[dict[str, Any]]]: ...
    async def call(self, method: str, **params: Any) -> Any: ...
    async def clear_status(self, channel: str, thread_ts: str | None) -> None: ...
    async def update(self, message: MessageRef, text: str, blocks: list[dict[str, Any]]) -> None: ...


# Each call's markdown_text stops at 12,000 characters; a streamed draft stays under that in all, so
# the finished text always fits the stop call (longer drafts become files before they are shown).
STREAM_CHARS = 11_500


def is_placeholder(reply: Reply) -> bool:
    """A progress message without the draft's words yet ("Writing v2…"): the core's streaming edits
    end with the cursor."""
    return reply.kind == ReplyKind.PROGRESS and not reply.text.endswith(CURSOR)


@dataclass
class Stream:
    channel: str
    ts: str
    thread_ts: str
    shown: str  # the markdown the message shows so far
    broken: bool = False  # fell back to chat.update: later edits go that way too


class NativeStreams:
    def __init__(self, platform: StreamHost) -> None:
        self.platform = platform
        self.open: dict[str, Stream] = {}

    async def start(self, thread: ThreadRef, reply: Reply) -> MessageRef | None:
        """Start a stream for a progress message; None when this one must be posted as usual."""
        platform = self.platform
        who = platform.recipient(thread.channel, thread.thread_id)
        if not thread.thread_id or (who is None and not thread.channel.startswith("D")):
            return None  # a stream is a reply, and outside a DM it is for someone
        markdown = _head(reply) + _body(reply)
        params: dict[str, Any] = {"channel": thread.channel, "thread_ts": thread.thread_id, "markdown_text": markdown}
        if who is not None:
            params.update(recipient_user_id=who[0], recipient_team_id=who[1])
        try:
            resp = await platform.call("chat.startStream", **params)
        except SlackApiError as exc:
            self._refused("chat.startStream", exc)
            return None
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            log.info("slack: chat.startStream failed (%s); posting instead", type(exc).__name__)
            return None
        ts = str(resp["ts"])
        self.open[ts] = Stream(thread.channel, ts, thread.thread_id, markdown)
        platform.spoke(thread.channel, thread.thread_id)
        return MessageRef(platform.name, thread.channel, ts, thread_id=thread.thread_id)

    async def edit(self, message: MessageRef, reply: Reply) -> bool:
        """Handle an edit of a streamed message; False when it is not one (the caller updates it)."""
        stream = self.open.get(message.message_id)
        if stream is None:
            return False
        if stream.broken:
            if reply.kind != ReplyKind.PROGRESS:
                del self.open[stream.ts]
            return False
        if reply.kind == ReplyKind.PROGRESS:
            await self._append(stream, reply)
        else:
            await self._stop(stream, reply)
        return True

    async def stop_orphan(self, message: MessageRef) -> bool:
        """Stop a stream left by another process (its message refused an update); True when it was one."""
        if message.message_id in self.open:
            return False
        try:
            await self.platform.call("chat.stopStream", channel=message.channel, ts=message.message_id)
        except (SlackApiError, SlackRequestError, aiohttp.ClientError, TimeoutError):
            return False
        log.info("slack: stopped a stream left by an earlier process; updating it instead")
        return True

    async def _append(self, stream: Stream, reply: Reply) -> None:
        if is_placeholder(reply):
            return
        await self.platform.clear_status(stream.channel, stream.thread_ts)
        target = _head(reply) + _body(reply)
        if not target.startswith(stream.shown) or len(target) > STREAM_CHARS:
            return  # not an extension (or too long for one message): the finished draft settles it
        delta = target[len(stream.shown) :]
        if not delta:
            return
        try:
            await self.platform.call("chat.appendStream", channel=stream.channel, ts=stream.ts, markdown_text=delta)
        except (SlackApiError, SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            if isinstance(exc, SlackApiError):
                self._refused("chat.appendStream", exc)
            await self._fall_back(stream, reply, exc)
            return
        stream.shown = target

    async def _stop(self, stream: Stream, reply: Reply) -> None:
        """The finished draft (or a notice taking its place): stop with the rest and the buttons."""
        await self.platform.clear_status(stream.channel, stream.thread_ts)
        final = _head(reply) + slack_safe.markdown(reply.text) if reply.kind == ReplyKind.DRAFT else None
        if final is None or not final.startswith(stream.shown) or len(final) > STREAM_CHARS:
            await self._fall_back(stream, reply, None)
            return
        tail = slack_blocks.tail_blocks(reply, feedback=self.platform.features.feedback)
        try:
            await self.platform.call(
                "chat.stopStream",
                channel=stream.channel,
                ts=stream.ts,
                markdown_text=final[len(stream.shown) :] or None,
                blocks=tail or None,
            )
        except (SlackApiError, SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            if isinstance(exc, SlackApiError):
                self._refused("chat.stopStream", exc)
            await self._fall_back(stream, reply, exc, stopped=False)
            return
        del self.open[stream.ts]

    async def _fall_back(self, stream: Stream, reply: Reply, exc: Exception | None, *, stopped: bool = False) -> None:
        """Today's path on the same message: stop the stream if it runs, then update it whole."""
        if exc is not None:
            log.info("slack: streaming refused (%s); updating the message instead", _why(exc))
        if not stopped:
            try:
                await self.platform.call("chat.stopStream", channel=stream.channel, ts=stream.ts)
            except (SlackApiError, SlackRequestError, aiohttp.ClientError, TimeoutError) as stop_exc:
                log.info("slack: could not stop a stream (%s)", _why(stop_exc))
        stream.broken = reply.kind == ReplyKind.PROGRESS  # the next edits update the message
        if not stream.broken:
            self.open.pop(stream.ts, None)
        text, blocks = self.platform.render(reply)
        await self.platform.update(
            MessageRef(self.platform.name, stream.channel, stream.ts, stream.thread_ts), text, blocks
        )

    def _refused(self, method: str, exc: SlackApiError) -> None:
        error = str(exc.response.get("error", ""))
        if error in LASTING:
            self.platform.turn_off("streaming", f"{method}: {error}")
        else:
            log.info("slack: %s refused: %s", method, _why(exc))


def _head(reply: Reply) -> str:
    """The draft's header as the streamed message's first line (blocks only come at the stop): the
    same from the first word to the finished draft, whose header names the version it became."""
    h = reply.header
    if h is None:
        return ""
    version = h.version + 1 if reply.kind == ReplyKind.PROGRESS else h.version
    label = " · ".join(part for part in (f"#{h.number}", f"v{version}", h.category) if part)
    return f"**{slack_safe.markdown(label)}**\n\n"


def _body(reply: Reply) -> str:
    """The text so far without the cursor, whole lines only, neutralised."""
    if is_placeholder(reply):
        return ""
    text = reply.text.removesuffix(CURSOR)
    text = text.rsplit("\n", 1)[0] + "\n" if "\n" in text else ""
    return slack_safe.markdown(text)


def _why(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return f"{exc.response.get('error', 'error')} (HTTP {getattr(exc.response, 'status_code', '?')})"
    return type(exc).__name__
