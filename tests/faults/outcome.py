"""What a fault scenario ended with, read from the database and the fake Slack's final state, and
its figures: events sent, stored, drafted, duplicated, lost (targets: duplicated 0, lost 0), and
what the bot told people about their messages (a "saved" or "nothing was lost" said in a thread
whose event was in fact lost is a false claim).

The database is read through a fresh engine without a pool each time: after a fault the test's own
connections may be the ones that were cut.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.fakes.slack_api import FakeSlackAPI
from tests.faults.slack_player import Delivery

# What the bot may say only when it is true (bot/texts.py: SAVED_THEN_FAILED, KEPT_FOR_RETRY,
# failed(); and the wording issue 13 found said about lost messages).
SAVED_CLAIM = re.compile(r"nothing (?:you sent )?was lost|\bwas saved\b|\bis kept\b", re.IGNORECASE)
NOT_SAVED = re.compile(r"was not saved|could not take this in|send it again|resend", re.IGNORECASE)
_CONTROLS = re.compile(r"dl_controls_(\d+)_(\d+)")


def database_of(url: str) -> str:
    return "postgres" if url.startswith("postgresql") else "sqlite"


async def eventually(predicate: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    """Whether `predicate()` came true within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(poll)
    return True


async def until(
    predicate: Callable[[], bool], timeout: float, what: str, state: Callable[[], object] | None = None
) -> None:
    """Wait for `predicate()`; fail the test with `what` (and `state()`) when it does not come true in time."""
    if not await eventually(predicate, timeout, poll=0.02):
        shown = f"; state: {state()}" if state is not None else ""
        raise AssertionError(f"timed out after {timeout} s waiting for {what}{shown}")


async def rows(url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(sql), params)
            return [dict(r._mapping) for r in result]
    finally:
        await engine.dispose()


async def scalar(url: str, sql: str, **params: Any) -> Any:
    found = await rows(url, sql, **params)
    return next(iter(found[0].values())) if found else None


# ---------------------------------------------------------------------- the fake Slack's final state


def message_text(msg: dict[str, Any]) -> str:
    """A message's text with every block's text and a stream's markdown, as a person would read it."""
    parts = [str(msg.get("text") or ""), str(msg.get("markdown_text") or "")]
    for block in msg.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            parts.append(str(block["text"].get("text", "")))
        for element in block.get("elements") or []:
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                parts.append(element["text"])
    return "\n".join(p for p in parts if p)


def draft_posts(fake: FakeSlackAPI, channel: str) -> list[tuple[int, int, dict[str, Any]]]:
    """(project, version, message) of every bot message carrying a draft's decision buttons."""
    out = []
    for msg in fake.bot_messages(channel):
        for block in msg.get("blocks") or []:
            found = _CONTROLS.fullmatch(str(block.get("block_id", ""))) if block.get("type") == "actions" else None
            if found:
                out.append((int(found.group(1)), int(found.group(2)), msg))
    return out


_PLACEHOLDER = re.compile(r"(?:^|\n)\s*(?:#\d+: )?Writing v\d+…")


def stale_progress(fake: FakeSlackAPI, channel: str) -> list[dict[str, Any]]:
    """Bot messages still showing a draft being written: a native stream never stopped, a posted
    progress message ("Writing vN…", or a stream's `_writing…_` line) never replaced."""
    out = []
    for msg in fake.bot_messages(channel):
        shown = message_text(msg)
        if msg.get("streaming") or "_writing…_" in shown or _PLACEHOLDER.search(shown):
            out.append(msg)
    return out


def stale_statuses(fake: FakeSlackAPI, channel: str) -> list[str]:
    """Threads whose assistant status ("is writing…") is still set."""
    return [f"{thread}: {status.get('status')}" for (c, thread), status in fake.statuses.items() if c == channel]


def acks(fake: FakeSlackAPI, channel: str) -> Counter[str]:
    """Acknowledgements ("Project #N · …") per thread."""
    found: Counter[str] = Counter()
    for msg in fake.bot_messages(channel):
        if re.match(r"\s*(?:#\d+: )?Project #\d+ ·", str(msg.get("text") or "")) and msg.get("thread_ts"):
            found[str(msg["thread_ts"])] += 1
    return found


# ---------------------------------------------------------------------- the outcome


@dataclass
class Outcome:
    """One scenario's result; `figures()` is its line in the summary table."""

    scenario: str
    database: str
    sent: int = 0
    deliveries: int = 0  # HTTP attempts, redeliveries included
    failed_answers: int = 0  # attempts answered 5xx / not in time / refused
    stored: int = 0
    drafted: int = 0
    duplicated: int = 0
    lost: int = 0
    false_claims: int = 0  # "saved" / "nothing was lost" said in a thread whose event was lost
    told_not_saved: int = 0  # "was not saved … send it again" (informative)
    stale_progress: int = 0
    notes: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "db": self.database,
            "sent": self.sent,
            "deliveries (failed)": f"{self.deliveries} ({self.failed_answers})",
            "stored": self.stored,
            "drafted": self.drafted,
            "duplicated": self.duplicated,
            "lost": self.lost,
            "false 'saved'": self.false_claims,
            "stale progress": self.stale_progress,
            "notes": "; ".join(f"{k} {v}" for k, v in self.notes.items()),
        }

    def misses(self) -> dict[str, int]:
        """The figures whose target is 0 and that are not."""
        figures = {
            "duplicated": self.duplicated,
            "lost": self.lost,
            "false 'saved'": self.false_claims,
            "stale progress": self.stale_progress,
        }
        return {name: n for name, n in figures.items() if n}

    def line(self) -> str:
        return " · ".join(f"{k} {v}" for k, v in self.figures().items())


async def measure(
    scenario: str,
    database: str,
    url: str,
    fake: FakeSlackAPI,
    channel: str,
    deliveries: list[Delivery],
    *,
    revisions: bool = True,
) -> Outcome:
    """Count what `deliveries` (mentions and replies) became.

    stored: a mention is stored when a project's request is its message; a reply when a feedback row
    carries its message id. drafted: a mention's project has its v1 posted with controls; a reply has
    been taken up by a version that was posted (only when `revisions`). duplicated: extra projects per
    request, extra feedback rows per reply, extra draft posts per (project, version), extra
    acknowledgements per thread.
    """
    out = Outcome(scenario, database)
    asked = [d for d in deliveries if d.kind in ("mention", "reply")]
    out.sent = len(asked)
    out.deliveries = sum(len(d.attempts) for d in asked)
    out.failed_answers = sum(len(d.failed_answers) for d in asked)
    projects = await rows(
        url, "SELECT id, channel, request_message_id, thread_id, state, current_version FROM projects"
    )
    by_request = Counter(p["request_message_id"] for p in projects if p["channel"] == channel)
    feedback = await rows(url, "SELECT id, project_id, message_id, consumed_by FROM feedback")
    by_reply = Counter(f["message_id"] for f in feedback if f["message_id"])
    posts = draft_posts(fake, channel)
    posted = Counter((p, v) for p, v, _ in posts)
    project_of_request = {p["request_message_id"]: p for p in projects if p["channel"] == channel}

    lost_threads: set[str] = set()
    for d in asked:
        if d.kind == "mention":
            stored = by_request[d.ts] > 0
            project = project_of_request.get(d.ts)
            drafted = project is not None and posted[(project["id"], 1)] > 0
        else:
            stored = by_reply[d.ts] > 0
            taken = [f for f in feedback if f["message_id"] == d.ts and f["consumed_by"]]
            drafted = any(posted[(f["project_id"], f["consumed_by"])] > 0 for f in taken)
        out.stored += stored
        out.drafted += drafted if (d.kind == "mention" or revisions) else 0
        if not stored:
            lost_threads.add(d.thread_ts or d.ts)
    out.lost = out.sent - out.stored
    try:
        inbox = await rows(url, "SELECT status, count(*) AS n FROM inbox GROUP BY status")
    except Exception:  # noqa: BLE001 - code from before the inbox (DRAFTLOOP_FAULTS_CODE) has no such table
        inbox = []
    left = {r["status"]: int(r["n"]) for r in inbox if r["status"] != "done"}
    if left:
        out.notes["inbox not done"] = ", ".join(f"{n} {status}" for status, n in sorted(left.items()))
        out.problems.append(f"stored deliveries not handled at the end: {left}")
    extra_projects = sum(n - 1 for n in by_request.values() if n > 1)
    extra_feedback = sum(n - 1 for n in by_reply.values() if n > 1)
    extra_posts = sum(n - 1 for n in posted.values() if n > 1)
    for (project, version), n in posted.items():
        if n > 1:
            where = [m["ts"] for p, v, m in posts if (p, v) == (project, version)]
            out.problems.append(f"v{version} of #{project} shown {n} times (messages {where})")
    ack_counts = acks(fake, channel)
    extra_acks = sum(n - 1 for n in ack_counts.values() if n > 1)
    for thread in (t for t, n in ack_counts.items() if n > 1):
        shown = [f"{m['ts']}: {str(m.get('text'))[:90]!r}" for m in fake.thread(channel, thread) if m.get("bot_id")]
        out.problems.append(f"thread {thread} acknowledged {ack_counts[thread]} times: {shown}")
    out.duplicated = extra_projects + extra_feedback + extra_posts + extra_acks
    if out.duplicated:
        out.problems.append(
            f"duplicates: {extra_projects} projects, {extra_feedback} feedback rows, "
            f"{extra_posts} draft posts, {extra_acks} acknowledgements"
        )

    for msg in fake.bot_messages(channel):
        shown = message_text(msg)
        thread = str(msg.get("thread_ts") or msg.get("ts"))
        if SAVED_CLAIM.search(shown) and thread in lost_threads:
            out.false_claims += 1
            out.problems.append(f"told {shown[:120]!r} in thread {thread}, whose message was lost")
        if NOT_SAVED.search(shown):
            out.told_not_saved += 1
    stale = stale_progress(fake, channel)
    statuses = stale_statuses(fake, channel)
    out.stale_progress = len(stale) + len(statuses)
    if stale:
        out.problems.append(f"progress messages never replaced: {[message_text(m)[:60] for m in stale]}")
    if statuses:
        out.problems.append(f"thread statuses never cleared: {statuses}")
    if out.lost:
        lost = [
            f"{d.kind} {d.ts} (answers {[a.status for a in d.attempts]})"
            for d in asked
            if not _stored(d, by_request, by_reply)
        ]
        out.problems.append(f"lost: {lost[:10]}")
    return out


def _stored(d: Delivery, by_request: Counter[str], by_reply: Counter[str]) -> bool:
    return (by_request if d.kind == "mention" else by_reply)[d.ts] > 0
