"""The scheduled jobs as plain, idempotent coroutines: send_digests, nudge_reviewers, expire_idle.

Each takes the Runtime (settings, db, clock, registered chat platforms) and an optional `now`; time
always comes from the injected Clock. Each records what it did in the database *before* it posts,
under a unique key (storage/digest_runs.py, storage/reminders.py), so a restart, a retry or a
second worker never posts the same thing twice:

- a digest run is a `digest_runs` row keyed by (channel, period_start); the job inserts it first and
  posts only if its insert won (a failed post marks the row failed, and a later run may retry it);
- a reminder bumps `projects.nudge_count` with a compare-and-set UPDATE and inserts
  `nudges(project_id, "nudge", seq)`; a second reminder is due only `nudge_after_hours` after the
  last one (or after the draft entered review, whichever is later);
- an expiry moves the project `in_review → expired` through the state table (compare-and-set) and
  inserts `nudges(project_id, "expire", 0)`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.config import DigestChannel
from bot.events import ThreadRef
from bot.loop.threads import header, number_of, opened_thread
from bot.orchestrator.deadlines import decide_overdue, escalate_unanswered
from bot.replies import Reply, ReplyKind
from bot.report.chart import chart_png
from bot.report.digest import DigestReport, build_report
from bot.report.period import Period, last_fires, period_for_fire
from bot.report.render import render_chat
from bot.settings import Settings
from bot.states import State, can_move
from bot.texts import plural
from bot.triage import experts_for
from storage.digest_runs import claim_digest_run, finish_digest_run
from storage.models import Project
from storage.reminders import AlreadyRecorded, due_for_reminder, idle_in_review, record_expiry, record_reminder

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

_log = logging.getLogger(__name__)

CHART_FILENAME = "digest.png"
STALE_RUN = timedelta(hours=1)  # a run "started" this long ago without finishing may be taken over
BATCH = 200  # projects handled per job run; the next run picks up the rest


# --------------------------------------------------------------------------- digest periods


def channel_key(channel: DigestChannel) -> str:
    return f"{channel.platform}:{channel.channel}"


def channel_tz(settings: Settings, channel: DigestChannel) -> ZoneInfo:
    return ZoneInfo(channel.timezone) if channel.timezone else settings.tz


def cron_trigger(settings: Settings, channel: DigestChannel) -> CronTrigger:
    return CronTrigger.from_crontab(channel.cron, timezone=channel_tz(settings, channel))


def due_period(settings: Settings, channel: DigestChannel, now: datetime) -> Period | None:
    previous, latest = last_fires(cron_trigger(settings, channel), now)
    if latest is None:
        return None
    return period_for_fire(latest, previous, channel_tz(settings, channel))


# --------------------------------------------------------------------------- digest runs


@dataclass(frozen=True)
class DigestOutcome:
    channel: str
    period: Period | None
    status: str  # posted, skipped (another run has it), failed, not-due
    detail: str = ""


async def claim_run(runtime: Runtime, key: str, period: Period, now: datetime) -> bool:
    """Record the run; True when this process won it (or took over a failed or stale one)."""
    async with runtime.db.session() as session:
        return await claim_digest_run(
            session=session,
            channel=key,
            period_start=period.start,
            period_end=period.end,
            now=now,
            stale_before=now - STALE_RUN,
        )


async def _finish_run(runtime: Runtime, key: str, period: Period, *, posted: bool) -> None:
    async with runtime.db.session() as session:
        await finish_digest_run(session=session, channel=key, period_start=period.start, posted=posted)


def digest_reply(report: DigestReport, *, chart: bool = True) -> Reply:
    """The digest as a chat message: Markdown text (render_chat), the report for a platform that
    renders it richly, and the chart."""
    data = report.to_json()
    files = ((CHART_FILENAME, chart_png(data)),) if chart and data.get("decided") else ()
    return Reply(render_chat(data), kind=ReplyKind.DIGEST, data=report, files=files)


async def send_digest(
    runtime: Runtime, channel: DigestChannel, *, now: datetime | None = None, chart: bool = True
) -> DigestOutcome:
    """Post the digest for the channel's most recent scheduled period, once."""
    now = now or runtime.clock.now()
    key = channel_key(channel)
    period = due_period(runtime.settings, channel, now)
    if period is None:
        return DigestOutcome(key, None, "not-due")
    if not await claim_run(runtime, key, period, now):
        return DigestOutcome(key, period, "skipped", "already posted or being posted")
    try:
        report = await build_report(runtime.db, period, now=now)
        reply = await asyncio.to_thread(digest_reply, report, chart=chart)
        platform = runtime.workflow.platform(channel.platform)
        await platform.post(ThreadRef(channel.platform, channel.channel, ""), reply)
    except Exception as exc:
        _log.exception("digest for %s (%s → %s) failed", key, period.since, period.last_day)
        await _finish_run(runtime, key, period, posted=False)
        return DigestOutcome(key, period, "failed", type(exc).__name__)
    await _finish_run(runtime, key, period, posted=True)
    _log.info("digest for %s (%s → %s) posted", key, period.since, period.last_day)
    return DigestOutcome(key, period, "posted")


async def send_digests(runtime: Runtime, *, now: datetime | None = None) -> list[DigestOutcome]:
    """Every configured digest channel whose latest scheduled run has not been posted yet."""
    now = now or runtime.clock.now()
    return [await send_digest(runtime, channel, now=now) for channel in runtime.settings.file.digest.channels]


# --------------------------------------------------------------------------- nudges and expiry


def _mentions(settings: Settings, category: str) -> tuple[str, ...]:
    return experts_for(category, settings)[1]


async def nudge_reviewers(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Remind the experts of drafts waiting longer than `nudge_after_hours`; returns reminders recorded."""
    now = now or runtime.clock.now()
    interval = timedelta(hours=runtime.settings.file.workflow.nudge_after_hours)
    if interval <= timedelta(0):
        return 0
    cutoff = now - interval
    waiting = State.IN_REVIEW.value
    async with runtime.db.session() as session:
        candidates = await due_for_reminder(session=session, waiting=waiting, cutoff=cutoff, limit=BATCH)
    sent = 0
    for project in candidates:
        try:
            async with runtime.db.session() as session:
                won = await record_reminder(
                    session=session,
                    project_id=number_of(project),
                    seen_count=project.nudge_count,
                    waiting=waiting,
                    cutoff=cutoff,
                    now=now,
                )
        except AlreadyRecorded:
            continue  # another worker recorded this reminder first
        if not won:
            continue
        sent += 1
        thread = opened_thread(project)
        if thread is None:
            continue
        assert project.review_since is not None
        hours = (now - project.review_since).total_seconds() / 3600
        mentions = _mentions(runtime.settings, project.category)
        text = (
            f"#{project.id} ({project.category}, v{project.current_version}) has waited {hours:.0f} h for review. "
            "Reply in this thread with feedback, or accept or reject it."
        )
        reply = Reply(text, kind=ReplyKind.NOTICE, header=header(project), mentions=mentions)
        await _notify(runtime, thread, reply, f"reminder for #{project.id}")
    await escalate_unanswered(runtime.db, runtime.settings, now, _orchestrator_notice(runtime))
    return sent


def _orchestrator_notice(runtime: Runtime) -> Callable[[Project, str, tuple[str, ...], str], Awaitable[None]]:
    """How the orchestrator's escalations and timeouts are said in the project's thread."""

    async def notice(project: Project, text: str, mentions: tuple[str, ...], state: str) -> None:
        thread = opened_thread(project)
        if thread is not None:
            reply = Reply(text, kind=ReplyKind.NOTICE, header=header(project, state), mentions=mentions)
            await _notify(runtime, thread, reply, f"orchestrator notice for #{project.id}")

    return notice


async def expire_idle(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Expire projects in review with no activity for `expire_after_days`; returns projects expired.
    First, drafts past their category's decision deadline are decided as its `on_timeout` says."""
    now = now or runtime.clock.now()
    await decide_overdue(runtime.db, runtime.settings, now, _orchestrator_notice(runtime))
    days = runtime.settings.file.workflow.expire_after_days
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    waiting, target = State.IN_REVIEW, State.EXPIRED
    if not can_move(waiting, target):  # the state table decides whether anything may expire
        return 0
    async with runtime.db.session() as session:
        candidates = await idle_in_review(session=session, waiting=waiting.value, cutoff=cutoff, limit=BATCH)
    expired = 0
    for project in candidates:
        try:
            async with runtime.db.session() as session:
                won = await record_expiry(
                    session=session,
                    project_id=number_of(project),
                    waiting=waiting.value,
                    target=target.value,
                    cutoff=cutoff,
                    now=now,
                )
        except AlreadyRecorded:
            continue
        if not won:
            continue
        expired += 1
        thread = opened_thread(project)
        if thread is None:
            continue
        text = f"#{project.id} expired after {plural(days, 'day')} without activity. Post a new request to start again."
        reply = Reply(text, kind=ReplyKind.NOTICE, header=header(project, target.value))
        await _notify(runtime, thread, reply, f"expiry notice for #{project.id}")
    return expired


async def _notify(runtime: Runtime, thread: ThreadRef, reply: Reply, what: str) -> None:
    """Post a job's notice; the job goes on (its record stands) when the platform refuses it."""
    try:
        await runtime.workflow.platform(thread.platform).post(thread, reply)
    except Exception:
        _log.exception("%s could not be posted", what)
