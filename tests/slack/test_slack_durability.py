"""Record, then acknowledge; resume what a fault left: through the real bolt app, AsyncWebClient and
the fake Slack API, on SQLite and PostgreSQL.

Each test plays the fault where it happens (a refusing table, a failing Web API method, a process
stopped mid-cycle) and then asks one sweep (bot/loop/sweeper.py) to finish the work, as `serve` and
`worker` do every `sweep_seconds`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, text

from bot import texts
from bot.ports import DraftRequest
from storage.engine import Database
from storage.models import InboxEntry, MessageLink, Version
from tests.core.test_event_keys import refusing
from tests.fakes.agents import Intercepted
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import CHANNEL, EXPERT, REQUESTER, SlackHarness, message_event

LOST = ("Nothing you sent was lost", "nothing was lost")


@pytest.fixture
async def harness(
    fake_slack: FakeSlackAPI, slack_settings: Any, db: Database, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SlackHarness]:
    """The Slack harness on the parametrized database (SQLite file or private PostgreSQL)."""
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    h = SlackHarness(fake_slack, slack_settings(fake_slack, database_url=db.url))
    await h.start()
    try:
        yield h
    finally:
        await h.close()


def _said(fake: FakeSlackAPI) -> list[str]:
    return [str(m.get("text") or "") for m in fake.bot_messages()]


def _never_claimed_nothing_lost(fake: FakeSlackAPI) -> None:
    for said in _said(fake):
        assert not any(words in said for words in LOST), said


async def _count(db: Database, model: Any, *where: Any) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def _expire_leases(db: Database) -> None:
    """What waiting `lease_seconds` does: every lease has run out."""
    async with db.session() as s:
        await s.execute(text("UPDATE projects SET lease_until = created_at WHERE lease_owner IS NOT NULL"))


async def test_an_event_that_cannot_be_stored_is_not_acknowledged_and_its_redelivery_is_handled(
    harness: SlackHarness, db: Database
) -> None:
    fake = harness.fake
    msg = fake.add_user_message(CHANNEL, f"<@{fake.bot_user_id}> [writing] a post on tea", user=REQUESTER)
    inner = {"type": "app_mention", "user": REQUESTER, "text": msg["text"], "ts": msg["ts"], "channel": CHANNEL}
    async with refusing(db, "INSERT", "inbox"):
        status, _ = await harness.event(inner, event_id="Ev-tea")
        await harness.settle()
    assert status == 500  # not acknowledged: Slack sends it again
    assert await harness.project_count() == 0 and fake.bot_messages() == []  # nobody was told a comforting lie

    status, _ = await harness.event(inner, event_id="Ev-tea", retry=1)  # Slack's redelivery
    await harness.settle()
    assert status == 200
    assert await harness.project_count() == 1 and len(harness.drafts()) == 1
    status, _ = await harness.event(inner, event_id="Ev-tea", retry=2)  # and a late one changes nothing
    await harness.settle()
    assert status == 200 and await harness.project_count() == 1 and len(harness.drafts()) == 1
    _never_claimed_nothing_lost(fake)


async def test_a_stored_event_whose_handling_failed_is_replayed_by_the_sweeper(
    harness: SlackHarness, db: Database
) -> None:
    fake = harness.fake
    async with refusing(db, "INSERT", "projects"):
        await harness.mention("[writing] a post on green tea")  # stored, acknowledged (200)
        await harness.settle()
    assert await harness.project_count() == 0
    assert _said(fake) == [texts.KEPT_FOR_RETRY]  # what is true: kept, and tried again
    assert await _count(db, InboxEntry, InboxEntry.status == "pending") == 1

    assert harness.runtime is not None
    swept = await harness.runtime.workflow.sweeper.sweep()
    await harness.settle()
    assert swept.replayed == 1
    assert await harness.project_count() == 1 and len(harness.drafts()) == 1
    assert await _count(db, InboxEntry, InboxEntry.status == "pending") == 0
    assert (await harness.runtime.workflow.sweeper.sweep()).replayed == 0  # done: not replayed twice
    _never_claimed_nothing_lost(fake)


async def test_a_failed_acknowledgement_is_resumed_and_the_project_drafted_once(
    harness: SlackHarness, db: Database
) -> None:
    """The observed case: chat.postMessage answering HTTP 500 through the SDK's retries."""
    fake = harness.fake
    fake.fail_next("chat.postMessage", status=500, times=4)  # the call and the SDK's three retries
    request = await harness.mention("[writing] a post on oolong")
    await harness.settle(timeout=30)
    project = await harness.project(1)
    assert (project.state, project.current_version, project.acked_at) == ("drafting", 0, None)
    assert project.thread_id == request["ts"]  # the thread is known: replies and retry find the project
    assert harness.drafts() == []

    assert harness.runtime is not None
    await _expire_leases(db)
    await harness.runtime.workflow.sweeper.sweep()
    await harness.settle()
    project = await harness.project(1)
    assert project.acked_at is not None and project.current_version == 1 and project.posted_version == 1
    said = _said(fake)
    assert sum("Project #1" in s for s in said) == 1  # one acknowledgement
    assert len(harness.drafts()) == 1
    await harness.runtime.workflow.sweeper.sweep()  # nothing more is owed
    await harness.settle()
    assert len(harness.drafts()) == 1 and sum("Project #1" in s for s in _said(fake)) == 1

    status, _ = await harness.react(harness.drafts()[0]["ts"], "white_check_mark", user=REQUESTER)
    await harness.settle()
    assert status == 200 and (await harness.project(1)).state == "accepted"
    _never_claimed_nothing_lost(fake)


async def test_a_version_whose_post_failed_is_shown_by_the_sweeper_and_its_check_mark_works(
    harness: SlackHarness, db: Database
) -> None:
    fake = harness.fake
    request = await harness.mention("[writing] a post on matcha")
    await harness.settle()
    assert len(harness.drafts()) == 1
    # The revision posts "Writing v2…", then edits it into the draft: that edit fails.
    fake.fail_next("chat.update", ok_false="internal_error")
    await harness.reply(request["ts"], "Shorter, please.", user=EXPERT)
    await harness.settle()
    project = await harness.project(1)
    assert (project.current_version, project.posted_version, project.state) == (2, 1, "in_review")
    assert project.progress_message_id is not None

    assert harness.runtime is not None
    await harness.runtime.workflow.sweeper.sweep()
    await harness.settle()
    project = await harness.project(1)
    assert (project.posted_version, project.progress_message_id) == (2, None)
    shown = fake.find(CHANNEL, harness.drafts()[-1]["ts"])
    assert shown is not None and shown["ts"] == harness.drafts()[-1]["ts"]
    # The progress message became v2 (no second message), and v2's link lets ✅ on it decide.
    assert not any(texts.drafting(2) in s for s in _said(fake))
    async with db.session() as s:
        link = (
            await s.execute(select(MessageLink).where(MessageLink.kind == "draft", MessageLink.version == 2))
        ).scalar_one()
    assert link.message_id == harness.drafts()[-1]["ts"]
    await harness.react(link.message_id, "white_check_mark", user=REQUESTER)
    await harness.settle()
    project = await harness.project(1)
    assert (project.state, project.accepted_version) == ("accepted", 2)


async def test_a_cycle_stopped_mid_revision_is_finished_by_a_new_process_in_its_own_progress_message(
    harness: SlackHarness, db: Database
) -> None:
    fake = harness.fake
    request = await harness.mention("[writing] a post on sencha")
    await harness.settle()
    assert harness.runtime is not None
    entered, hold = asyncio.Event(), asyncio.Event()

    async def held(req: DraftRequest) -> None:
        entered.set()
        await hold.wait()

    pool = harness.runtime.agents
    pool.use("offline", Intercepted(pool.backend(pool.spec("offline")), held))
    msg = fake.add_user_message(CHANNEL, "Add a line on brewing.", user=EXPERT, thread_ts=request["ts"])
    status, _ = await harness.event(message_event(msg, channel=CHANNEL))
    assert status == 200
    await asyncio.wait_for(entered.wait(), 10)
    progress = [m for m in fake.bot_messages() if texts.drafting(2) in str(m.get("text"))]
    assert len(progress) == 1

    await harness.stop(drain=False)  # the process stops mid-call (the lease is handed back)
    await harness.start()  # a new process: no new traffic
    assert harness.runtime is not None
    await harness.runtime.workflow.sweeper.sweep()
    await harness.settle()
    project = await harness.project(1)
    assert (project.current_version, project.posted_version, project.state) == (2, 2, "in_review")
    assert await _count(db, Version) == 2  # v2 landed exactly once
    # The stale "Writing v2…" was taken back: it is the draft now, and no other progress message exists.
    assert not any(texts.drafting(2) in str(m.get("text")) for m in fake.bot_messages())
    assert harness.drafts()[-1]["ts"] == progress[0]["ts"]


async def test_healthz_reports_the_database_and_readyz_fails_without_it(harness: SlackHarness) -> None:
    assert harness.service is not None and harness.runtime is not None
    base = f"http://127.0.0.1:{harness.service.port}"

    async def get(path: str) -> tuple[int, dict[str, Any]]:
        async with aiohttp.ClientSession() as http, http.get(base + path) as resp:
            return resp.status, await resp.json()

    assert await get("/healthz") == (200, {"ok": True, "database": "ok"})
    assert await get("/readyz") == (200, {"ready": True, "database": "ok"})

    async def unreachable(timeout: float = 2.0) -> bool:
        return False

    ping: Callable[..., Awaitable[bool]] = harness.runtime.db.ping
    harness.runtime.db.ping = unreachable  # type: ignore[method-assign]
    try:
        assert await get("/healthz") == (200, {"ok": True, "database": "unreachable"})
        assert await get("/readyz") == (503, {"ready": False, "database": "unreachable"})
    finally:
        harness.runtime.db.ping = ping  # type: ignore[method-assign]


async def test_a_delivery_being_handled_is_not_replayed_however_long_it_takes(
    fake_slack: FakeSlackAPI, slack_settings: Any, db: Database, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim on a stored delivery is renewed while this process handles it: a sweep meanwhile (here or in
    another process) does not replay it, so it costs no second model call. Before: the claim ran out after a
    lease, and on a loaded machine the same request was drafted twice."""
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "short-lease.toml"
    config.write_text("[workflow]\nlease_seconds = 1\nsweep_seconds = 0.2\n")
    h = SlackHarness(fake_slack, slack_settings(fake_slack, database_url=db.url, draftloop_config=config))
    await h.start()
    try:
        assert h.runtime is not None
        calls: list[str] = []

        async def counted(req: DraftRequest) -> None:
            calls.append(req.brief)

        pool = h.runtime.agents
        pool.use("offline", Intercepted(pool.backend(pool.spec("offline")), counted))
        fake = h.fake
        msg = fake.add_user_message(CHANNEL, f"<@{fake.bot_user_id}> a post on hojicha", user=REQUESTER)
        inner = {"type": "app_mention", "user": REQUESTER, "text": msg["text"], "ts": msg["ts"], "channel": CHANNEL}
        fake.delays["users.info"] = 2.5  # the event is read 2.5 s after the ack (its author's name): past the claim
        assert (await h.event(inner, event_id="Ev-slow"))[0] == 200
        await asyncio.sleep(1.6)
        swept = await h.runtime.workflow.sweeper.sweep()
        await h.settle()
        assert swept.replayed == 0 and len(calls) == 1
        assert await h.project_count() == 1 and len(h.drafts()) == 1
    finally:
        await h.close()
