"""Platform-neutral inbound events and the references they carry.

Adapters turn a Slack event, a Discord gateway message or a console line into one of these frozen
dataclasses and await `Workflow.handle(event)`. Ids are strings as the platform gives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, get_args


@dataclass(frozen=True)
class Actor:
    """Who did something. `roles` holds platform roles or groups (Discord role names or ids)."""

    platform: str
    user_id: str
    name: str = ""
    roles: frozenset[str] = frozenset()
    is_bot: bool = False

    @property
    def display(self) -> str:
        return self.name or self.user_id


@dataclass(frozen=True)
class ThreadRef:
    """Where a project's conversation lives: (platform, channel, thread id)."""

    platform: str
    channel: str
    thread_id: str


@dataclass(frozen=True)
class MessageRef:
    """One message: its thread (or channel when top-level) and its id."""

    platform: str
    channel: str
    message_id: str
    thread_id: str | None = None

    def thread(self) -> ThreadRef:
        return ThreadRef(self.platform, self.channel, self.thread_id or self.message_id)


@dataclass(frozen=True)
class Attachment:
    """A file attached to a request. `text` is filled when the adapter could read it as text."""

    filename: str
    text: str | None = None
    size: int = 0
    mimetype: str = ""


@dataclass(frozen=True)
class Locator:
    """How an event names its project: by number (buttons, `#12`), thread, or a message in it.

    The first field that is set wins, in that order.
    """

    number: int | None = None
    thread: ThreadRef | None = None
    message: MessageRef | None = None


@dataclass(frozen=True)
class RequestPosted:
    """A new request: a mention, a slash command, a form, a forum post, a console line."""

    origin: MessageRef
    actor: Actor
    text: str
    attachments: tuple[Attachment, ...] = ()
    category: str | None = None
    deadline: str | None = None
    stated_minutes: int | None = None
    event_key: str | None = None
    # When the platform already has a thread for the request (a forum post, a DM), put it here;
    # otherwise the workflow asks the platform to open one.
    thread: ThreadRef | None = None
    # Drafted by two agents, A and B, to pick from (a platform's own option; `--compare` in the
    # text says the same on every platform: bot/orchestrator/compare.py).
    compare: bool = False


@dataclass(frozen=True)
class ThreadReply:
    """A human reply in a project's thread (or a "Request changes" form). The core decides what it is."""

    locator: Locator
    actor: Actor
    text: str
    message_id: str = ""
    stated_minutes: int | None = None
    event_key: str | None = None
    # The bot's message whose button sent this reply (Pick A / Pick B): shown picked once it is.
    on_message: str = ""


class Outcome(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


RejectReason = Literal["wrong scope", "factual errors", "tone", "format", "other"]
# The reasons a reject form offers, in the order platforms show them; stored and counted as written.
REJECT_REASONS: tuple[RejectReason, ...] = get_args(RejectReason)


@dataclass(frozen=True)
class DecisionSignal:
    """Accept or reject, by button, reaction or typed word.

    A reject may carry one of REJECT_REASONS and a free comment (a platform's reject form); both are
    stored with the decision and the reasons are counted in the digest. A reason outside the list
    is stored as "other".
    """

    locator: Locator
    actor: Actor
    outcome: Outcome
    via: str = "text"
    event_key: str | None = None
    # The thread to answer a refusal in, when the locator alone does not say (e.g. a button).
    reply_to: ThreadRef | None = None
    reason: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class CommandInvoked:
    """help, status, digest, retry, cancel, mine. `reply_to` is where the answer goes (`mine` answers
    privately, to the actor only)."""

    name: str
    actor: Actor
    reply_to: ThreadRef
    args: tuple[str, ...] = ()
    locator: Locator | None = None
    event_key: str | None = None


SignalValue = Literal["up", "down"]


@dataclass(frozen=True)
class SignalGiven:
    """One-tap feedback (👍 / 👎) on one version of a draft.

    A light signal: stored per project, version and person (a second tap replaces the first), counted
    in the digest beside accept and reject; never feedback, never a revision, never a decision.
    """

    locator: Locator
    actor: Actor
    version: int
    value: SignalValue
    event_key: str | None = None


Event = RequestPosted | ThreadReply | DecisionSignal | CommandInvoked | SignalGiven
