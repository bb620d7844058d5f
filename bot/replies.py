"""Platform-neutral outbound content: what the core asks a chat platform to show."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ReplyKind(StrEnum):
    ACK = "ack"  # the request was understood: number, category, agent, experts
    PROGRESS = "progress"  # a draft being streamed; edited in place
    DRAFT = "draft"  # a finished version, with decision controls
    NOTICE = "notice"  # state changes, failures, nudges, "noted"
    HELP = "help"
    STATUS = "status"
    DIGEST = "digest"
    ERROR = "error"


@dataclass(frozen=True)
class DraftHeader:
    """What every bot message about a project shows: thread number, version, state, category, model."""

    number: int
    state: str
    version: int = 0
    category: str = ""
    model: str = ""
    agent: str = ""

    def label(self) -> str:
        """`#12 · v2 · writing · gpt-4o`: the line every platform heads a project's messages with."""
        parts = [f"#{self.number}"]
        if self.version:
            parts.append(f"v{self.version}")
        parts += [part for part in (self.category, self.model) if part]
        return " · ".join(parts)


@dataclass(frozen=True)
class Reply:
    """One message. `text` is Markdown; adapters convert it to their dialect.

    `controls` asks for Accept / Request changes / Reject on platforms that have buttons; their
    values must carry `header.number` so a click on an old message acts on the project.
    `picks` asks for one button per label ("A", "B": a compared request's drafts) on platforms that
    have buttons; a click is the reply `pick <label>` on project `header.number`.
    `mentions` are platform user ids or group handles to ping (the category's experts).
    `data` carries a structured object a platform may render richly (the digest report).
    """

    text: str
    kind: ReplyKind = ReplyKind.NOTICE
    header: DraftHeader | None = None
    controls: bool = False
    picks: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    summary: str = ""  # for long drafts posted as a file: what the message says beside it
    data: Any = None
    files: tuple[tuple[str, bytes], ...] = field(default_factory=tuple)  # (filename, bytes), e.g. a chart
