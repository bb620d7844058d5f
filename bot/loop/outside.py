"""What an outside agent is and what it is shown: its name as an agent (`external:<client>`), the
results of the outside front doors' operations as JSON objects, and the sentences said about them
(bot/loop/external.py does the work)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import texts
from bot.loop.threads import number_of, thread_of
from bot.states import FINAL, State
from storage import callers
from storage.callers import Mark
from storage.models import Project
from storage.projects import EXTERNAL_AGENTS

MAX_DRAFT_CHARS = 200_000  # a draft or revision an outside agent sends (about 50,000 words)
MAX_WAIT_SECONDS = 60.0  # get_review's wait_seconds is capped here: a caller polls, it never hangs
MAX_NAME_CHARS = 60  # a client's name, in `external:<name>`
MAX_REQUESTER_CHARS = 128
LIST_LIMIT = 100
DEFAULT_CHANNEL = "console"

_NAME = re.compile(r"[^a-z0-9._-]+")


def is_external(agent: str) -> bool:
    return agent.startswith(EXTERNAL_AGENTS)


@dataclass(frozen=True)
class Caller:
    """Who calls from outside: `external:<client>` (the MCP client's name, or the API's `agent`)."""

    client: str

    @classmethod
    def named(cls, raw: str | None) -> Caller:
        """A client name as an agent name: lower case, letters, digits, `.`, `_` and `-`."""
        name = _NAME.sub("-", (raw or "").strip().lower()).strip("-")[:MAX_NAME_CHARS]
        return cls(name or "agent")

    @property
    def agent(self) -> str:
        return f"{EXTERNAL_AGENTS}{self.client}"


# -- what the front doors return, as JSON objects ----------------------------------------------------


def thread_json(project: Project) -> dict[str, str]:
    ref = thread_of(project)
    return {"platform": ref.platform, "channel": ref.channel, "thread": ref.thread_id}


def at(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def waiting_for(project: Project, pending: int) -> str | None:
    """Whose move it is: `you` (the caller owes a version), `experts`, `agent` (draftloop's agent is
    writing) or None once the project is decided."""
    state = State(project.state)
    if state in FINAL or state == State.FAILED:
        return None
    if is_external(project.agent):
        return "you" if pending else "experts"
    if state == State.IN_REVIEW and not pending:
        return "experts"
    return "agent"


@dataclass(frozen=True)
class Opened:
    project: Project
    asked: tuple[str, ...]
    posted: bool

    def to_json(self) -> dict[str, Any]:
        p = self.project
        return {
            "number": number_of(p),
            "state": p.state,
            "version": p.current_version,
            "category": p.category,
            "agent": p.agent,
            "thread": thread_json(p),
            "asked": list(self.asked) or ["anyone in the thread"],
            "posted": self.posted,
        }


@dataclass(frozen=True)
class Point:
    id: int
    author: str
    text: str
    on_version: int
    stated_minutes: int | None
    expert: bool
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "author": self.author,
            "text": self.text,
            "on_version": self.on_version,
            "stated_minutes": self.stated_minutes,
            "expert": self.expert,
            "at": at(self.at),
        }


@dataclass(frozen=True)
class Review:
    project: Project
    feedback: tuple[Point, ...]
    decision: dict[str, Any] | None
    draft: str | None  # the current version's text when draftloop's agent wrote it

    @property
    def waiting_for(self) -> str | None:
        return waiting_for(self.project, len(self.feedback))

    @property
    def mark(self) -> Mark:
        return callers.mark_of(self.project)

    def to_json(self) -> dict[str, Any]:
        p = self.project
        out: dict[str, Any] = {
            "number": number_of(p),
            "state": p.state,
            "version": p.current_version,
            "category": p.category,
            "agent": p.agent,
            "thread": thread_json(p),
            "waiting_for": self.waiting_for,
            "feedback": [point.to_json() for point in self.feedback],
            "decision": self.decision,
        }
        if self.draft is not None:
            out["draft"] = self.draft
        return out


@dataclass(frozen=True)
class Revised:
    project: Project
    answered: int
    posted: bool

    def to_json(self) -> dict[str, Any]:
        p = self.project
        return {
            "number": number_of(p),
            "state": p.state,
            "version": p.current_version,
            "answered": self.answered,
            "posted": self.posted,
        }


def summary(project: Project) -> dict[str, Any]:
    return {
        "number": number_of(project),
        "state": project.state,
        "version": project.current_version,
        "category": project.category,
        "agent": project.agent,
        "brief": " ".join(project.brief.split())[:120],
        "thread": thread_json(project),
        "updated_at": at(project.updated_at),
    }


# -- sentences ---------------------------------------------------------------------------------------


def too_long(what: str, size: int, limit: int) -> str:
    return f"The {what} is {texts.plural(size, 'character')}; the limit is {limit:,}. Shorten it and send it again."


def not_yours(number: int, caller: Caller) -> str:
    return f"Project #{number} was not opened by {caller.agent}; an agent reads and revises only its own projects."


def asked_text(agent: str, requester: str | None, brief: str, limit: int) -> str:
    who = f"{agent} for {requester}" if requester else agent
    head = f"Review requested by {who}:\n\n"
    room = max(200, limit - len(head) - 80)
    shown = brief if len(brief) <= room else f"{brief[:room]}… ({texts.plural(len(brief), 'character')} in all)"
    return head + shown


def ack_text(number: int, category: str, reason: str, agent: str, experts: tuple[str, ...]) -> str:
    why = "" if reason == "given" else f" ({reason})"
    who = ", ".join(experts) if experts else "anyone in this thread"
    return (
        f"Project #{number} · {category}{why} · agent {agent}, with its own draft (no model writes for it). "
        f"Feedback from: {who}. Its revisions come from {agent}."
    )


def waits_text(project: Project) -> str:
    return f"Noted for #{project.id}: {project.agent} writes the next version itself; your feedback waits for it."


def sends_text(agent: str, version: int, answered: int, notes: str) -> str:
    answers = f", answering {texts.plural(answered, 'feedback point')}" if answered else ""
    said = f": {notes}" if notes else "."
    return f"{agent} sends v{version}{answers}{said}"
