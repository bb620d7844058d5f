"""How long projects have waited, as the digest says it: measured to now (the injected clock), and
for a period in the past to its end."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from adapters.chat.console.service import ConsoleService
from bot.events import Actor, CommandInvoked, ThreadRef
from bot.replies import ReplyKind
from bot.report.digest import Period, build_report
from storage.engine import Database
from tests.conftest import FakeClock, request_event
from tests.digest.dataset import OFFLINE, Spec, at, insert_specs

UTC_ZONE = ZoneInfo("UTC")


async def test_console_digest_says_a_fresh_project_has_waited_under_a_minute(
    make_runtime, settings_factory, clock: FakeClock
) -> None:
    # 09:00 UTC: the 7-day period runs to tomorrow 00:00, which is 15 h away
    rt = make_runtime(settings_factory())
    out = io.StringIO()
    console = ConsoleService(rt, stdin=io.StringIO("[writing] a short memo\n/digest\n"), out=out)
    console.speaker = "alice"
    await console.run()
    text = out.getvalue()
    assert "#1 writing v1, waiting under a minute" in text, text
    assert "waiting 15 h" not in text


async def test_chat_digest_command_measures_to_the_clock(make_runtime, settings_factory, clock: FakeClock) -> None:
    """`/draftloop digest` on Slack and Discord takes the same path (Commands.digest)."""
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("[writing] a short memo"))
    clock.advance(hours=3)
    here = ThreadRef("console", "C1", "")
    await rt.workflow.handle(CommandInvoked("digest", Actor("console", "bob", "bob"), here))
    [digest] = [s.reply for s in rt.chat.sent if s.reply.kind == ReplyKind.DIGEST]
    assert "#1 writing v1, waiting 3 h" in digest.text  # not 15 h: to the clock, not to the period's end
    [waiting] = digest.data.to_json()["waiting"]
    assert waiting["waiting_hours"] == 3.0


async def test_a_period_up_to_now_is_measured_to_the_moment_it_was_cut(db: Database) -> None:
    now = at(2026, 11, 18, 9)
    await insert_specs(
        db, (Spec(1, "writing", OFFLINE, "in_review", 1, 0),), decided_at=now, accept_after=timedelta(hours=3)
    )
    # in review since 06:02 (created 06:00, first draft after 2 min): 2 h 58 min by 09:00
    period = Period.last_days(7, now=now, tz=UTC_ZONE)
    for report in (await build_report(db, period), await build_report(db, period, now=now)):
        [waiting] = report.to_json()["waiting"]
        assert waiting["waiting_hours"] == round(2 + 58 / 60, 1)


async def test_a_past_period_measures_to_its_end_and_lists_only_who_waited_then(db: Database) -> None:
    week = Period(date(2026, 11, 16), date(2026, 11, 23), UTC_ZONE)
    old = await insert_specs(
        db,
        (Spec(1, "writing", OFFLINE, "in_review", 1, 0),),
        decided_at=at(2026, 11, 22, 12),
        accept_after=timedelta(hours=2),
    )
    await insert_specs(  # in review only after the week ended
        db,
        (Spec(1, "writing", OFFLINE, "in_review", 1, 0),),
        decided_at=at(2026, 11, 24, 12),
        accept_after=timedelta(hours=2),
    )
    data = (await build_report(db, week, now=datetime(2026, 11, 30, tzinfo=UTC))).to_json()
    assert [w["number"] for w in data["waiting"]] == old and data["waiting_total"] == 1
    # 10:02 on the 22nd to the end of the 22nd
    assert data["waiting"][0]["waiting_hours"] == round(13 + 58 / 60, 1)
