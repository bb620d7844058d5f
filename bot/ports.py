"""The protocols the core depends on. Adapters implement them; the core imports nothing else of theirs.

A new chat platform or model provider is one module in `adapters/` implementing one of these and
one entry point in pyproject.toml (`draftloop.services` for chat platforms that run in `serve` or
`worker`, `draftloop.agents` for model providers).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from bot.events import Actor, MessageRef, ThreadRef
from bot.replies import Reply


@dataclass(frozen=True)
class PlatformLimits:
    """Capabilities as data, so the core never needs optional methods.

    `min_edit_interval` is the shortest gap between two edits of one message (Slack ~1 s per
    channel, Discord 5 edits / 5 s); 0 disables streaming edits (the console prints finished
    drafts only). A draft longer than `max_inline_chars` is posted with `upload` and a summary.
    """

    max_message_chars: int = 4000
    max_inline_chars: int = 12000
    min_edit_interval: float = 0.0
    buttons: bool = False
    reactions: bool = False


@runtime_checkable
class ChatPlatform(Protocol):
    """The outbound side of a chat adapter. Inbound traffic goes to `Workflow.handle(event)`."""

    name: str
    limits: PlatformLimits

    async def open_thread(self, origin: MessageRef, *, number: int, title: str) -> ThreadRef:
        """Return the thread for a new project whose request is `origin`.

        Slack answers the request's own ts; Discord creates a thread named `title` on the message;
        the console uses `#number`. Called once per project; must not fail on a platform that
        has threads implicitly.
        """
        ...

    async def post(self, thread: ThreadRef, reply: Reply) -> MessageRef:
        """Post a new message in `thread`. Raises PlatformError when the platform refuses."""
        ...

    async def edit(self, message: MessageRef, reply: Reply) -> None:
        """Replace a message's content (streaming, final draft). May be called many times."""
        ...

    async def upload(self, thread: ThreadRef, *, filename: str, content: str, reply: Reply) -> MessageRef:
        """Post `content` as a file with `reply` (its summary) as the message beside it."""
        ...

    async def notify_private(self, thread: ThreadRef, actor: Actor, text: str) -> None:
        """Tell one person something only they see (ephemeral, DM): "not allowed", help."""
        ...

    # Optional, not required of a platform: `async def show_private(self, thread, actor, reply) -> None`
    # shows `reply` to one person only, rendering `reply.data` richly where the platform can (the
    # `mine` list: bot.loop.commands.MineList). The core falls back to `notify_private` with Markdown.


@dataclass(frozen=True)
class FeedbackPoint:
    text: str
    author: str
    version: int  # the version it was given on
    new: bool  # not yet taken up by any revision


@dataclass(frozen=True)
class DraftRequest:
    """Everything an agent needs for one version, rendered and structured.

    `system` and `messages` are the rendered prompt (`messages` alternate user/assistant, the last
    is the user's); `cache_prefix_chars` says how many leading characters of the first user message
    are stable across cycles, for providers with prompt caching. The structured fields let the
    offline agent (and tests) work without parsing text.
    """

    project_number: int
    version: int
    category: str
    brief: str
    system: str
    messages: tuple[tuple[str, str], ...]
    max_output_tokens: int = 4096
    previous_draft: str | None = None
    feedback: tuple[FeedbackPoint, ...] = ()
    cache_prefix_chars: int = 0


@dataclass
class DraftResult:
    """The end of a stream: the whole text and what it cost."""

    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    finish_reason: str = "stop"
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class AgentBackend(Protocol):
    """A model provider. `stream` yields text deltas (str) and ends with exactly one DraftResult.
    It is an async generator: the pool closes it as soon as it has the result (or fails), so what it
    holds (a streamed HTTP response) is let go then, not when the garbage collector finds it.

    Failures are raised as bot.errors.AgentError subclasses (AgentUnavailable, AgentRateLimited,
    AgentRejected), never as SDK exceptions; messages name the agent and never contain a key.
    """

    name: str
    model: str

    def stream(self, request: DraftRequest) -> AsyncGenerator[str | DraftResult, None]: ...

    async def aclose(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
