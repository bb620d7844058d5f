"""Several Socket Mode connections (`DRAFTLOOP_SLACK_CONNECTIONS`), on SQLite and PostgreSQL.

The fake gives each envelope to one connection in turn, as Slack spreads an app's events over its
open connections; a redelivery lands on another connection, or on another process's. Every event is
handled once: one project, one acknowledgement and one draft per mention. And the setting is checked
at start-up: out of 1..10, `draftloop worker` exits 2 with one line.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.chat.slack import service as slack_service
from bot.app.cli import app as cli
from bot.app.runtime import Runtime
from bot.settings import Settings
from storage.engine import Database
from tests.fakes.slack_api import FakeSlackAPI, event_envelope
from tests.slack.conftest import CHANNEL, SlackHarness, mention_event


def _mention(fake: FakeSlackAPI, n: int) -> dict[str, Any]:
    _, inner = mention_event(fake, f"[writing] Write status note {n}")
    return event_envelope(inner)


async def _worker(settings: Settings) -> tuple[Runtime, slack_service.SlackService]:
    runtime = await Runtime.create(settings)
    service = slack_service.create(runtime, "worker")
    assert service is not None and service.mode == "socket"
    await service.start()
    return runtime, service


async def _settle(*runtimes: Runtime, timeout: float = 30.0) -> None:
    """Until no runtime has work in flight, three checks in a row."""
    loop = asyncio.get_running_loop()
    deadline, quiet = loop.time() + timeout, 0
    while quiet < 3:
        if loop.time() > deadline:
            raise TimeoutError(f"still busy after {timeout} s")
        await asyncio.sleep(0.02)
        quiet = quiet + 1 if all(r.in_flight == 0 for r in runtimes) else 0


def _per_thread(fake: FakeSlackAPI, mentions: list[dict[str, Any]]) -> tuple[Counter[str], Counter[str]]:
    """Bot messages per mention's thread: all of them, and those carrying the draft's decision buttons."""
    roots = {m["event"]["ts"] for m in mentions}
    posts: Counter[str] = Counter()
    drafts: Counter[str] = Counter()
    for msg in fake.bot_messages(CHANNEL):
        thread = msg.get("thread_ts")
        if thread in roots:
            posts[thread] += 1
            if any(b.get("type") == "actions" for b in msg.get("blocks") or []):
                drafts[thread] += 1
    return posts, drafts


@pytest.fixture
def socket_settings(slack_settings: Any, db_url: str, db: Database, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Worker settings with an app token on the test database (`db` empties it on PostgreSQL)."""
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)

    def make(fake: FakeSlackAPI, connections: int) -> Settings:
        return slack_settings(
            fake,
            database_url=db_url,
            slack_app_token="xapp-1-test",
            slack_signing_secret=None,
            draftloop_slack_connections=connections,
        )

    return make


async def test_events_over_every_connection_are_each_handled_once(
    fake_slack: FakeSlackAPI, socket_settings: Any
) -> None:
    runtime, service = await _worker(socket_settings(fake_slack, 3))
    try:
        await fake_slack.wait_socket(count=3)
        assert len(fake_slack.sockets) == 3 and fake_slack.counts()["apps.connections.open"] == 3
        ids = fake_slack.socket_ids
        mentions = [_mention(fake_slack, n) for n in range(9)]
        # Each mention on the next connection in turn, and at once its redelivery on the one after it:
        # the two race to be stored on different connections.
        sent = []
        for n, envelope in enumerate(mentions):
            sent.append(await fake_slack.socket_send("events_api", envelope))
            sent.append(
                await fake_slack.socket_send("events_api", envelope, retry_attempt=1, to=ids[(n + 1) % len(ids)])
            )
        await fake_slack.wait_until(lambda: set(sent) <= set(fake_slack.socket_acks), timeout=15)
        await _settle(runtime)

        # Every connection carried events, and each envelope was acked on the connection it came on.
        assert set(fake_slack.socket_counts()) == set(ids)
        assert all(fake_slack.socket_counts()[i] == 6 for i in ids)
        assert all(fake_slack.socket_acked[e][0] == fake_slack.socket_sent[e][0] for e in sent)
        harness = SlackHarness(fake_slack, runtime.settings)
        harness.runtime = runtime
        assert await harness.project_count() == len(mentions)
        posts, drafts = _per_thread(fake_slack, mentions)
        assert drafts == Counter({m["event"]["ts"]: 1 for m in mentions})
        assert posts == Counter({m["event"]["ts"]: 2 for m in mentions})  # the acknowledgement and the draft
    finally:
        await service.stop()
        await runtime.close()
    assert fake_slack.sockets == []  # every connection closed on stop


async def test_two_workers_with_two_connections_each_handle_each_event_once(
    fake_slack: FakeSlackAPI, socket_settings: Any
) -> None:
    """A redelivery on the other process's connection: only the inbox's unique key can drop it."""
    first = await _worker(socket_settings(fake_slack, 2))
    await fake_slack.wait_socket(count=2)
    mine = set(fake_slack.socket_ids)
    second = await _worker(socket_settings(fake_slack, 2))
    runtimes = (first[0], second[0])
    try:
        await fake_slack.wait_socket(count=4)
        theirs = sorted(set(fake_slack.socket_ids) - mine)
        ours = sorted(mine)
        mentions = [_mention(fake_slack, n) for n in range(8)]
        sends = []
        for n, envelope in enumerate(mentions):
            sends.append(fake_slack.socket_send("events_api", envelope, to=ours[n % 2]))
            sends.append(fake_slack.socket_send("events_api", envelope, retry_attempt=1, to=theirs[n % 2]))
        sent = await asyncio.gather(*sends)
        await fake_slack.wait_until(lambda: set(sent) <= set(fake_slack.socket_acks), timeout=15)
        await _settle(*runtimes)

        assert set(fake_slack.socket_counts()) == mine | set(theirs)
        harness = SlackHarness(fake_slack, first[0].settings)
        harness.runtime = first[0]
        assert await harness.project_count() == len(mentions)
        posts, drafts = _per_thread(fake_slack, mentions)
        assert drafts == Counter({m["event"]["ts"]: 1 for m in mentions})
        assert posts == Counter({m["event"]["ts"]: 2 for m in mentions})
    finally:
        for runtime, service in (first, second):
            await service.stop()
            await runtime.close()


async def test_one_connection_when_asked(fake_slack: FakeSlackAPI, slack_settings: Any) -> None:
    settings = slack_settings(
        fake_slack, slack_app_token="xapp-1-test", slack_signing_secret=None, draftloop_slack_connections=1
    )
    runtime, service = await _worker(settings)
    try:
        await fake_slack.wait_socket()
        await asyncio.sleep(0.2)  # a second connection, if one were opened, would be up by now
        assert len(fake_slack.sockets) == 1 and fake_slack.counts()["apps.connections.open"] == 1
    finally:
        await service.stop()
        await runtime.close()


def test_two_connections_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRAFTLOOP_SLACK_CONNECTIONS", raising=False)
    assert Settings().draftloop_slack_connections == 2


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("0", "DRAFTLOOP_SLACK_CONNECTIONS: 0 Socket Mode connections; Slack allows 1 to 10 per app (default 2)"),
        ("11", "DRAFTLOOP_SLACK_CONNECTIONS: 11 Socket Mode connections; Slack allows 1 to 10 per app (default 2)"),
        ("two", "DRAFTLOOP_SLACK_CONNECTIONS: must be a whole number (got 'two')"),
    ],
)
def test_connections_out_of_range_stop_the_worker_with_one_line(
    value: str, said: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DATABASE_URL", "DRAFTLOOP_AGENT", "DRAFTLOOP_CONFIG", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never.db'}")
    monkeypatch.setenv("DRAFTLOOP_SLACK_CONNECTIONS", value)
    result = CliRunner().invoke(cli, ["worker"], input="")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and said in result.stderr
    assert not (tmp_path / "never.db").exists()  # refused before anything connects


async def test_a_close_slack_does_not_answer_does_not_hold_the_stop(
    fake_slack: FakeSlackAPI, slack_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """slack_sdk's close waits up to 10 s for Slack's answer when its own reader has left the socket
    (seen under load: the stop then ran out of its grace). The stop drops a connection whose close
    takes longer than SOCKET_CLOSE_SECONDS: its client's tasks cancelled, its HTTP session closed."""
    settings = slack_settings(
        fake_slack, slack_app_token="xapp-1-test", slack_signing_secret=None, draftloop_slack_connections=2
    )
    runtime, service = await _worker(settings)
    try:
        await fake_slack.wait_socket(count=2)
        handlers = list(service._sockets)
        sessions = [handler.client.aiohttp_client_session for handler in handlers]
        monitors = [handler.client.current_session_monitor for handler in handlers]
        for handler in handlers:
            handler.close_async = asyncio.Event().wait  # an answer that never comes
        with caplog.at_level("INFO", logger=slack_service.log.name):
            await asyncio.wait_for(service.stop(), timeout=8)  # a hang guard, below slack_sdk's 10 s
        assert caplog.text.count("did not close within 1 s; dropped") == 2
        assert all(session.closed for session in sessions)
        assert all(monitor.cancelled() for monitor in monitors)
        await fake_slack.wait_until(lambda: not fake_slack.sockets, timeout=5)  # the sockets went with them
    finally:
        await service.stop()
        await runtime.close()
