"""The scheduled jobs with a controllable clock, on SQLite and PostgreSQL.

Digest runs are keyed by (channel, period) in the database, so restarts, retries and a second
worker never post twice; reminders come once per interval; idle projects expire once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import col

from bot.app import jobs
from bot.app.runtime import Runtime
from bot.app.scheduler import JobScheduler
from bot.replies import Reply, ReplyKind
from bot.settings import Settings
from storage.engine import Database
from storage.models import DigestRun, Nudge, Project
from tests.conftest import FakeClock, request_event
from tests.digest.dataset import STUDY, at, insert_specs
from tests.fakes.recording_chat import RecordingChat

BERLIN = ZoneInfo("Europe/Berlin")
CONFIG = """
timezone = "Europe/Berlin"

[workflow]
nudge_after_hours = 24
expire_after_days = 14

[categories.writing]
experts = ["U_EXPERT"]
mention = ["<@U_EXPERT>"]

[[digest.channels]]
platform = "console"
channel = "C-digest"
"""
# Monday 23 Nov 2026, 09:05 in Berlin (UTC+1): five minutes after the weekly run
AFTER_MONDAY_RUN = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


def _digests(chat: RecordingChat) -> list[Reply]:
    return [s.reply for s in chat.sent if s.reply.kind == ReplyKind.DIGEST]


async def _count(db: Database, model: Any, *where: Any) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


def _settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(CONFIG)


async def test_weekly_digest_posts_once_with_chart(make_runtime, settings_factory, clock: FakeClock, db) -> None:
    await insert_specs(db, STUDY, decided_at=at(2026, 11, 18, 10))
    clock.current = AFTER_MONDAY_RUN
    rt = make_runtime(_settings(settings_factory))
    first = await jobs.send_digests(rt)
    assert [o.status for o in first] == ["posted"]
    assert first[0].period is not None
    assert (first[0].period.since, first[0].period.until) == (date(2026, 11, 16), date(2026, 11, 23))
    again = await jobs.send_digests(rt)
    assert [o.status for o in again] == ["skipped"]
    [digest] = _digests(rt.chat)
    sent = next(s for s in rt.chat.sent if s.reply.kind == ReplyKind.DIGEST)
    assert (sent.thread.channel, sent.thread.thread_id) == ("C-digest", "")
    assert digest.text.splitlines()[1].startswith("Agents finished 40% alone; with expert feedback 62% (+22 pts)")
    [(name, png)] = digest.files
    assert name == "digest.png" and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert digest.data.to_json()["decided"] == 214
    assert await _count(db, DigestRun, col(DigestRun.status) == "posted") == 1


async def test_missed_run_is_made_up_once_at_start(make_runtime, settings_factory, clock: FakeClock, db) -> None:
    # Down over Monday's 09:00 run; started again on Wednesday.
    clock.current = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    rt = make_runtime(_settings(settings_factory))
    for _ in range(3):  # three restarts
        sched = JobScheduler(rt, nudge_every=0, expire_every=0)
        await sched.start()
        assert sched.catch_up_task is not None
        await sched.catch_up_task
        await sched.stop()
    [digest] = _digests(rt.chat)
    assert digest.data.period.since == date(2026, 11, 16) and digest.data.period.until == date(2026, 11, 23)
    # the next Monday's run covers the next week, once
    clock.current = datetime(2026, 11, 30, 8, 0, 1, tzinfo=UTC)
    assert [o.status for o in await jobs.send_digests(rt)] == ["posted"]
    assert [o.status for o in await jobs.send_digests(rt)] == ["skipped"]
    assert [d.data.period.since for d in _digests(rt.chat)] == [date(2026, 11, 16), date(2026, 11, 23)]


async def test_two_schedulers_started_at_once_post_one_digest(settings_factory, clock: FakeClock, db, db_url) -> None:
    # `db` empties the tables; each scheduler gets its own engine on the same database
    clock.current = AFTER_MONDAY_RUN
    settings = _settings(settings_factory)
    runtimes, chats, scheds = [], [], []
    for _ in range(2):  # two worker processes: own engine, own platform, own scheduler
        rt = Runtime(settings, db=Database(db_url), clock=clock)
        chat = RecordingChat()
        rt.register_platform(chat)
        runtimes.append(rt)
        chats.append(chat)
        scheds.append(JobScheduler(rt, nudge_every=0, expire_every=0))
    try:
        await asyncio.gather(*(s.start() for s in scheds))
        outcomes = await asyncio.gather(*(s.catch_up_task for s in scheds if s.catch_up_task))
        assert sorted(o.status for out in outcomes for o in out) == ["posted", "skipped"]
        assert sum(len(_digests(c)) for c in chats) == 1
        assert await _count(runtimes[0].db, DigestRun) == 1
    finally:
        for s in scheds:
            await s.stop()
        for rt in runtimes:
            await rt.db.dispose()


async def test_cron_job_fires_through_apscheduler(make_runtime, settings_factory, clock: FakeClock) -> None:
    clock.current = AFTER_MONDAY_RUN
    rt = make_runtime(_settings(settings_factory))
    sched = JobScheduler(rt, catch_up=False)
    await sched.start()
    try:
        assert sched.scheduler is not None
        job = sched.scheduler.get_job("digest:console:C-digest")
        assert job is not None
        nxt = job.next_run_time.astimezone(BERLIN)
        assert (nxt.weekday(), nxt.hour, nxt.minute) == (0, 9, 0)
        assert {j.id for j in sched.scheduler.get_jobs()} == {"digest:console:C-digest", "nudge", "expire"}
        job.modify(next_run_time=datetime.now(UTC))  # fire now, through the scheduler's own loop
        for _ in range(200):
            if _digests(rt.chat):
                break
            await asyncio.sleep(0.025)
        assert len(_digests(rt.chat)) == 1
    finally:
        await sched.stop()


async def test_failed_post_is_retried_by_the_next_run(make_runtime, settings_factory, clock: FakeClock, db) -> None:
    clock.current = AFTER_MONDAY_RUN

    class Flaky(RecordingChat):
        fail = True

        async def post(self, thread: Any, reply: Reply) -> Any:
            if self.fail:
                self.fail = False
                raise RuntimeError("platform down")
            return await super().post(thread, reply)

    rt = make_runtime(_settings(settings_factory), chat=Flaky())
    assert [o.status for o in await jobs.send_digests(rt)] == ["failed"]
    assert [o.status for o in await jobs.send_digests(rt)] == ["posted"]
    assert [o.status for o in await jobs.send_digests(rt)] == ["skipped"]
    assert len(_digests(rt.chat)) == 1


async def _in_review(rt: Runtime) -> Project:
    await rt.workflow.handle(request_event("[writing] a post on onboarding"))
    async with rt.db.session() as s:
        project = await s.get(Project, 1)
    assert project is not None and project.state == "in_review"
    return project


def _reminders(chat: RecordingChat) -> list[Reply]:
    return [s.reply for s in chat.sent if "for review" in s.reply.text and s.reply.kind == ReplyKind.NOTICE]


async def test_nudge_once_per_interval(make_runtime, settings_factory, clock: FakeClock, db) -> None:
    rt = make_runtime(_settings(settings_factory))
    start = clock.now()
    await _in_review(rt)
    clock.current = start + timedelta(hours=23, minutes=59)
    assert await jobs.nudge_reviewers(rt) == 0
    clock.current = start + timedelta(hours=24, minutes=1)
    assert await jobs.nudge_reviewers(rt) == 1
    assert await jobs.nudge_reviewers(rt) == 0  # a retry or a second run
    clock.current = start + timedelta(hours=47)  # 23 h after the reminder
    assert await jobs.nudge_reviewers(rt) == 0
    clock.current = start + timedelta(hours=48, minutes=2)
    assert await jobs.nudge_reviewers(rt) == 1
    reminders = _reminders(rt.chat)
    assert len(reminders) == 2
    assert reminders[0].mentions == ("<@U_EXPERT>",) and "#1" in reminders[0].text
    assert reminders[0].header is not None and reminders[0].header.number == 1
    async with db.session() as s:
        seqs = (await s.execute(select(Nudge.seq).where(col(Nudge.kind) == "nudge").order_by(Nudge.seq))).all()
    assert [r[0] for r in seqs] == [1, 2]


async def test_nudge_from_two_workers_at_once_is_sent_once(
    make_runtime, settings_factory, clock: FakeClock, db, db_url
) -> None:
    rt = make_runtime(_settings(settings_factory))
    start = clock.now()
    await _in_review(rt)
    other = Runtime(rt.settings, db=Database(db_url), clock=clock)
    other_chat = RecordingChat()
    other.register_platform(other_chat)
    try:
        clock.current = start + timedelta(hours=25)
        counts = await asyncio.gather(jobs.nudge_reviewers(rt), jobs.nudge_reviewers(other))
        assert sorted(counts) == [0, 1]
        assert len(_reminders(rt.chat)) + len(_reminders(other_chat)) == 1
    finally:
        await other.db.dispose()


async def test_idle_project_expires_once(make_runtime, settings_factory, clock: FakeClock, db) -> None:
    rt = make_runtime(_settings(settings_factory))
    start = clock.now()
    await _in_review(rt)
    clock.current = start + timedelta(days=13, hours=23)
    assert await jobs.expire_idle(rt) == 0
    clock.current = start + timedelta(days=14, minutes=1)
    assert await jobs.expire_idle(rt) == 1
    assert await jobs.expire_idle(rt) == 0
    async with db.session() as s:
        project = await s.get(Project, 1)
    assert project is not None
    assert (project.state, project.decided_at) == ("expired", clock.now())
    notices = [s for s in rt.chat.sent if "expired after 14 days" in s.reply.text]
    assert len(notices) == 1 and notices[0].thread.thread_id == project.thread_id
    assert await _count(db, Nudge, col(Nudge.kind) == "expire") == 1
    # an expired project is decided: the digest counts it, and it is no longer waiting or nudged
    clock.current += timedelta(days=2)
    assert await jobs.nudge_reviewers(rt) == 0


async def test_a_one_day_expiry_says_day(make_runtime, settings_factory, clock: FakeClock) -> None:
    rt = make_runtime(settings_factory(CONFIG.replace("expire_after_days = 14", "expire_after_days = 1")))
    start = clock.now()
    await _in_review(rt)
    clock.current = start + timedelta(days=1, minutes=1)
    assert await jobs.expire_idle(rt) == 1
    assert [s.reply.text for s in rt.chat.sent if "expired after" in s.reply.text] == [
        "#1 expired after 1 day without activity. Post a new request to start again."
    ]
