"""The scheduled jobs as plain, idempotent coroutines: send_digests, nudge_reviewers, expire_idle.

Each takes the Runtime (settings, db, clock, registered chat platforms) and an optional `now`; time
always comes from the injected Clock. Each records what it did in the database *before* it posts,
under a unique key, so a restart, a retry or a second worker never posts the same thing twice:

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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.config import DigestChannel
from bot.events import ThreadRef
from bot.replies import DraftHeader, Reply, ReplyKind
from bot.report.chart import chart_png
from bot.report.digest import DigestReport, Period, build_report
from bot.report.render import render_text
from bot.settings import Settings
from bot.states import State, can_move
from bot.triage import experts_for
from storage._util import rowcount
from storage.models import DigestRun, Nudge, Project

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


def last_fires(
    trigger: CronTrigger, now: datetime, *, lookback_days: int = 62
) -> tuple[datetime | None, datetime | None]:
    """The two most recent fire times at or before `now`: (previous, latest)."""
    previous: datetime | None = None
    latest: datetime | None = None
    cursor = now - timedelta(days=lookback_days)
    fire = trigger.get_next_fire_time(None, cursor)
    while fire is not None and fire <= now:
        previous, latest = latest, fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return previous, latest


def period_for_fire(fire: datetime, previous: datetime | None, tz: ZoneInfo) -> Period:
    """A run at `fire` reports the whole local days since the previous run: [previous day, fire day).

    A weekly Monday 09:00 digest covers Monday to Sunday of the week before; without an earlier fire
    in the look-back window the period is the 7 days before the run.
    """
    until = fire.astimezone(tz).date()
    since = previous.astimezone(tz).date() if previous is not None else until - timedelta(days=7)
    if since >= until:  # more than one run a day: the day before
        since = until - timedelta(days=1)
    return Period(since, until, tz)


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
    """Insert the run's row; True when this process won it (or took over a failed or stale one)."""
    values = {
        "channel": key,
        "period_start": period.start,
        "period_end": period.end,
        "status": "started",
        "created_at": now,
    }
    try:
        async with runtime.db.session() as session:
            await session.execute(insert(DigestRun).values(**values))
        return True
    except IntegrityError:
        pass
    async with runtime.db.session() as session:
        result = await session.execute(
            update(DigestRun)
            .where(
                col(DigestRun.channel) == key,
                col(DigestRun.period_start) == period.start,
                or_(
                    col(DigestRun.status) == "failed",
                    and_(col(DigestRun.status) == "started", col(DigestRun.created_at) < now - STALE_RUN),
                ),
            )
            .values(status="started", created_at=now)
        )
        return rowcount(result) == 1


async def _finish_run(runtime: Runtime, key: str, period: Period, status: str) -> None:
    async with runtime.db.session() as session:
        await session.execute(
            update(DigestRun)
            .where(col(DigestRun.channel) == key, col(DigestRun.period_start) == period.start)
            .values(status=status)
        )


def digest_reply(report: DigestReport, *, chart: bool = True) -> Reply:
    data = report.to_json()
    files = ((CHART_FILENAME, chart_png(data)),) if chart and data.get("decided") else ()
    return Reply(render_text(data), kind=ReplyKind.DIGEST, data=report, files=files)


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
        _log.exception("digest for %s (%s → %s) failed", key, period.since, period.until)
        await _finish_run(runtime, key, period, "failed")
        return DigestOutcome(key, period, "failed", type(exc).__name__)
    await _finish_run(runtime, key, period, "posted")
    _log.info("digest for %s (%s → %s) posted", key, period.since, period.until)
    return DigestOutcome(key, period, "posted")


async def send_digests(runtime: Runtime, *, now: datetime | None = None) -> list[DigestOutcome]:
    """Every configured digest channel whose latest scheduled run has not been posted yet."""
    now = now or runtime.clock.now()
    return [await send_digest(runtime, channel, now=now) for channel in runtime.settings.file.digest.channels]


# --------------------------------------------------------------------------- nudges and expiry


def _mentions(settings: Settings, category: str) -> tuple[str, ...]:
    return experts_for(category, settings)[1]


def _thread(project: Project) -> ThreadRef | None:
    if not project.thread_id:
        return None
    return ThreadRef(project.platform, project.channel, project.thread_id)


def _header(project: Project, state: str | None = None) -> DraftHeader:
    return DraftHeader(
        number=int(project.id or 0),
        state=state or project.state,
        version=project.current_version,
        category=project.category,
        model=project.model,
        agent=project.agent,
    )


async def nudge_reviewers(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Remind the experts of drafts waiting longer than `nudge_after_hours`; returns reminders recorded."""
    now = now or runtime.clock.now()
    interval = timedelta(hours=runtime.settings.file.workflow.nudge_after_hours)
    if interval <= timedelta(0):
        return 0
    cutoff = now - interval
    due = and_(
        col(Project.state) == State.IN_REVIEW.value,
        col(Project.review_since) <= cutoff,
        or_(col(Project.last_nudged_at).is_(None), col(Project.last_nudged_at) <= cutoff),
    )
    async with runtime.db.session() as session:
        candidates = list(
            (await session.execute(select(Project).where(due).order_by(col(Project.review_since)).limit(BATCH)))
            .scalars()
            .all()
        )
    sent = 0
    for project in candidates:
        seq = project.nudge_count + 1
        try:
            async with runtime.db.session() as session:
                won = await session.execute(
                    update(Project)
                    .where(col(Project.id) == project.id, col(Project.nudge_count) == project.nudge_count, due)
                    .values(nudge_count=seq, last_nudged_at=now)
                )
                if rowcount(won) != 1:
                    continue
                await session.execute(
                    insert(Nudge).values(project_id=project.id, kind="nudge", seq=seq, created_at=now)
                )
        except IntegrityError:
            continue  # another worker recorded this reminder first
        sent += 1
        thread = _thread(project)
        if thread is None:
            continue
        assert project.review_since is not None
        hours = (now - project.review_since).total_seconds() / 3600
        mentions = _mentions(runtime.settings, project.category)
        text = (
            f"#{project.id} ({project.category}, v{project.current_version}) has waited {hours:.0f} h for review. "
            "Reply in this thread with feedback, or accept or reject it."
        )
        try:
            await runtime.workflow.platform(project.platform).post(
                thread, Reply(text, kind=ReplyKind.NOTICE, header=_header(project), mentions=mentions)
            )
        except Exception:
            _log.exception("reminder for #%s could not be posted", project.id)
    return sent


async def expire_idle(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Expire projects in review with no activity for `expire_after_days`; returns projects expired."""
    now = now or runtime.clock.now()
    days = runtime.settings.file.workflow.expire_after_days
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    idle = and_(col(Project.state) == State.IN_REVIEW.value, col(Project.updated_at) <= cutoff)
    async with runtime.db.session() as session:
        candidates = list(
            (await session.execute(select(Project).where(idle).order_by(col(Project.updated_at)).limit(BATCH)))
            .scalars()
            .all()
        )
    expired = 0
    for project in candidates:
        if not can_move(State(project.state), State.EXPIRED):
            continue
        try:
            async with runtime.db.session() as session:
                won = await session.execute(
                    update(Project)
                    .where(col(Project.id) == project.id, idle)
                    .values(state=State.EXPIRED.value, decided_at=now, updated_at=now, lease_owner=None)
                )
                if rowcount(won) != 1:
                    continue
                await session.execute(insert(Nudge).values(project_id=project.id, kind="expire", seq=0, created_at=now))
        except IntegrityError:
            continue
        expired += 1
        thread = _thread(project)
        if thread is None:
            continue
        text = f"#{project.id} expired after {days:g} days without activity. Post a new request to start again."
        try:
            await runtime.workflow.platform(project.platform).post(
                thread, Reply(text, kind=ReplyKind.NOTICE, header=_header(project, State.EXPIRED.value))
            )
        except Exception:
            _log.exception("expiry notice for #%s could not be posted", project.id)
    return expired
