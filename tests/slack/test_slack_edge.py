"""The HTTP edge of `draftloop serve`: authenticate on the raw bytes, then parse, then bolt.

Real HTTP to the real web app on 127.0.0.1 (the `slack` harness of conftest.py): unsigned and
forged requests are 401 before anything is parsed, signed bodies of the wrong shape are 400 with
X-Slack-No-Retry, oversized bodies 413, and none of it writes a traceback or a line per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from multidict import CIMultiDict

from adapters.chat.slack import http as slack_http
from adapters.chat.slack.http import EdgeLimits, Refusals
from adapters.chat.slack.service import EDGE, build_web_app
from tests.fakes.slack_api import event_envelope, slash_command_body
from tests.slack.conftest import CHANNEL, REQUESTER, SECRET, SlackHarness

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
DEEP = "[" * 100_000 + "]" * 100_000
GARBAGE = ["null", "[1]", "42", '{"authorizations":"x"}', DEEP]


def signed(body: bytes, *, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def forged() -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "ab" * 32}


async def post(slack: SlackHarness, body: bytes | str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    assert slack.http is not None
    data = body.encode() if isinstance(body, str) else body
    async with slack.http.post(slack.url, data=data, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.text()


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


class Probe:
    """A bolt middleware that records every request reaching bolt (its own check is off)."""

    def __init__(self, slack: SlackHarness) -> None:
        assert slack.service is not None
        self.seen: list[dict[str, Any]] = []
        slack.service.app.use(self)

    async def __call__(self, body: dict[str, Any], next: Any) -> None:  # noqa: A002 - bolt's name
        self.seen.append(body)
        await next()


def command_form(**drop: None) -> str:
    fields = {
        "token": "legacy",
        "team_id": "T0001",
        "channel_id": CHANNEL,
        "user_id": REQUESTER,
        "command": "/draftloop",
        "text": "help",
        "response_url": "http://127.0.0.1:9/r",
        "trigger_id": "trig.1",
    }
    return urlencode({k: v for k, v in fields.items() if k not in drop})


# ---------------------------------------------------------------------- unauthenticated: 401, quietly


async def test_unsigned_garbage_is_401_before_parsing_and_never_a_traceback(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    probe = Probe(slack)
    for body in GARBAGE:
        for headers in ({}, forged(), signed(body.encode(), secret="not-the-secret")):
            status, _, _ = await post(slack, body, {"Content-Type": JSON, **headers})
            assert status == 401, (body[:30], headers)
    status, _, _ = await post(slack, b'{"type":"x"}', {"Content-Type": "application/json; charset=x-nope"})
    assert status == 401
    assert probe.seen == [] and tracebacks(caplog) == []
    assert not any("authorizations" in r.getMessage() for r in caplog.records)  # no body in the logs


@pytest.mark.parametrize(
    "stamp, signature",
    [
        ("abc", None),
        ("", None),
        (" 1700000000", None),
        ("+1700000000", None),
        ("1_700_000_000", None),
        ("1e9", None),
        ("99999999999999999999", None),
        ("stale", None),
        ("future", None),
        (None, "v1=" + "ab" * 32),
        (None, "v0=" + "AB" * 32),
        (None, "v0=short"),
        (None, ""),
    ],
)
async def test_malformed_signature_headers_are_401(
    slack: SlackHarness, stamp: str | None, signature: str | None
) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c"}).encode()
    headers = signed(body)
    now = int(time.time())
    # Well outside the 300 s window: a stamp 301 s ahead fell inside it when the server read the clock
    # a second later than the test (a loaded machine), and the "future" case passed the check.
    stamps = {"stale": str(now - 330), "future": str(now + 330)}
    if stamp is not None:
        headers["X-Slack-Request-Timestamp"] = stamps.get(stamp, stamp)
        if stamp in stamps:
            headers = signed(body, ts=int(stamps[stamp]))
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    status, _, _ = await post(slack, body, {"Content-Type": JSON, **headers})
    assert status == 401


async def test_a_header_given_twice_is_401(slack: SlackHarness) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c"}).encode()
    assert slack.http is not None
    headers = [("Content-Type", JSON), *signed(body).items(), ("X-Slack-Signature", forged()["X-Slack-Signature"])]
    async with slack.http.post(slack.url, data=body, headers=CIMultiDict(headers)) as resp:
        assert resp.status == 401


async def test_unsigned_requests_never_reach_a_listener(slack: SlackHarness) -> None:
    probe = Probe(slack)
    mention = json.dumps(
        event_envelope(
            {"type": "app_mention", "user": REQUESTER, "text": "<@UBOT> hi", "ts": "1.1", "channel": CHANNEL}
        )
    )
    stale = signed(mention.encode(), ts=int(time.time()) - 600)
    for headers in ({}, forged(), stale, signed(mention.encode(), secret="wrong")):
        status, _, _ = await post(slack, mention, {"Content-Type": JSON, **headers})
        assert status == 401
    await slack.settle()
    assert probe.seen == [] and await slack.project_count() == 0
    status, _, text = await post(slack, mention, {"Content-Type": JSON, **signed(mention.encode())})
    assert status == 200 and len(probe.seen) == 1  # the same body, signed, does reach bolt


async def test_ssl_check_is_answered_and_nothing_rides_on_it(slack: SlackHarness) -> None:
    probe = Probe(slack)
    status, _, _ = await post(slack, "ssl_check=1&token=legacy", {"Content-Type": FORM})
    assert status == 200
    smuggled = "ssl_check=1&" + urlencode({"payload": json.dumps({"type": "shortcut"})})
    status, _, _ = await post(slack, smuggled, {"Content-Type": FORM})
    assert status == 401
    assert probe.seen == []


async def test_a_thousand_unsigned_posts_write_at_most_two_lines(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def one(i: int) -> int:
        return (await post(slack, b"abcd", forged() if i % 2 else {}))[0]

    statuses: list[int] = []
    for start in range(0, 1000, 100):
        statuses += await asyncio.gather(*(one(i) for i in range(start, start + 100)))
    assert statuses == [401] * 1000
    await slack.stop()  # flushes the pending summary
    lines = [r for r in caplog.records if r.levelno >= logging.INFO and "listening" not in r.getMessage()]
    refusals = [r for r in lines if r.name == slack_http.__name__]
    assert len(refusals) <= 2 and tracebacks(caplog) == []
    assert "999" in refusals[-1].getMessage()  # the summary counts what it did not log one by one
    assert all(r.name != "slack_bolt" for r in lines)


async def test_refusal_lines_are_at_least_an_interval_apart() -> None:
    now = [0.0]
    refusals = Refusals(60.0, clock=lambda: now[0])
    handler = _Collect()
    slack_http.log.addHandler(handler)
    try:
        for t in (0.0, 1.0, 30.0):
            now[0] = t
            refusals.add("unsigned")
        assert len(handler.lines) == 1
        now[0] = 60.0
        refusals.flush()  # what the timer does at 60 s
        assert len(handler.lines) == 2 and "refused 2 " in handler.lines[-1]
        now[0] = 70.0
        refusals.add("stale timestamp")  # 10 s after the summary: counted, not logged
        assert len(handler.lines) == 2
        refusals.flush()
        now[0] = 200.0
        refusals.add("unsigned")  # quiet for longer than the interval: logged at once
        assert len(handler.lines) == 4
    finally:
        slack_http.log.removeHandler(handler)
        refusals.flush()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


# ---------------------------------------------------------------------- signed, wrong shape: 400, no retry


async def test_signed_garbage_is_400_without_retry(slack: SlackHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    probe = Probe(slack)
    cases: list[tuple[bytes, str]] = [(b.encode(), JSON) for b in GARBAGE]
    cases += [
        (b'{"type": "url_verification", "challenge": "c"}', "application/json; charset=x-unknown"),
        (b'{"type": "url_verification", "challenge": "\xff"}', JSON),
        (b'{"type": "event_callback", "event": {}}', JSON),
        (b'{"type": "event_callback", "event": {"type": "app_mention", "channel": 5, "ts": "1"}}', JSON),
        (b'{"type": "something_else"}', JSON),
        (b'{"type": "url_verification", "challenge": "c"}', "text/plain"),
        (b"payload=%7B%22type%22%3A%22shortcut%22%7D&extra=1", FORM),
        (b"payload=%ff", FORM),
        (urlencode({"payload": DEEP}).encode(), FORM),
        (b"command=/draft&command=/draft", FORM),
    ]
    for body, content_type in cases:
        status, headers, _ = await post(slack, body, {"Content-Type": content_type, **signed(body)})
        assert status == 400 and headers.get("X-Slack-No-Retry") == "1", (body[:40], content_type)
    assert probe.seen == [] and tracebacks(caplog) == []


@pytest.mark.parametrize("missing", ["channel_id", "user_id", "team_id", "command", "trigger_id"])
async def test_signed_slash_command_missing_a_field_is_400(slack: SlackHarness, missing: str) -> None:
    body = command_form(**{missing: None})
    status, headers, _ = await post(slack, body, {"Content-Type": FORM, **signed(body.encode())})
    assert status == 400 and headers.get("X-Slack-No-Retry") == "1"


def _interactive(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


USER = {"id": REQUESTER, "name": "req"}
VIEW = {"id": "V1", "type": "modal", "callback_id": "dl_draft_form", "state": {"values": {}}}
BAD_INTERACTIONS = {
    "view_submission without view.type": {
        "type": "view_submission",
        "user": USER,
        "view": {k: v for k, v in VIEW.items() if k != "type"},
    },
    "view_submission with a string state": {"type": "view_submission", "user": USER, "view": {**VIEW, "state": "x"}},
    "block_actions without actions": {"type": "block_actions", "user": USER, "trigger_id": "t", "actions": []},
    "block_actions with a string channel object": {
        "type": "block_actions",
        "user": USER,
        "trigger_id": "t",
        "actions": [{"action_id": "dl_accept", "value": "1"}],
        "channel": ["C1"],
    },
    "message_action without message.ts": {
        "type": "message_action",
        "user": USER,
        "callback_id": "dl_draft_from_message",
        "trigger_id": "t",
        "channel": {"id": CHANNEL},
        "message": {"text": "hi"},
    },
    "shortcut with a user id only": {"type": "shortcut", "user": 7, "callback_id": "c", "trigger_id": "t"},
    "unknown type": {"type": "dialog_submission", "user": USER},
}


@pytest.mark.parametrize("case", sorted(BAD_INTERACTIONS))
async def test_signed_interaction_of_the_wrong_shape_is_400(slack: SlackHarness, case: str) -> None:
    body = _interactive(BAD_INTERACTIONS[case])
    status, headers, _ = await post(slack, body, {"Content-Type": FORM, **signed(body.encode())})
    assert status == 400 and headers.get("X-Slack-No-Retry") == "1"


async def test_a_command_whose_text_says_payload_is_still_a_command(slack: SlackHarness) -> None:
    # bolt's own parser treats any form containing the word "payload" as interactivity, and drops it
    status, _ = await slack.command("/draft", "[writing] Explain the webhook payload format", user=REQUESTER)
    assert status == 200
    await slack.settle()
    assert "payload format" in (await slack.project(1)).brief


# ---------------------------------------------------------------------- size and concurrency


async def test_a_body_over_the_limit_is_413(slack: SlackHarness) -> None:
    filler = slack_http.MAX_BODY - len('{"type":"url_verification","challenge":""}') + 1
    body = json.dumps({"type": "url_verification", "challenge": "a" * filler}, separators=(",", ":")).encode()
    assert len(body) == slack_http.MAX_BODY + 1
    status, headers, _ = await post(slack, body, {"Content-Type": JSON, **signed(body)})
    assert status == 413 and headers.get("X-Slack-No-Retry") == "1"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds on bytes read
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    assert slack.http is not None
    async with slack.http.post(slack.url, data=chunks(), headers={"Content-Type": JSON, **signed(body)}) as resp:
        assert resp.status == 413
    small = b'{"type":"url_verification","challenge":"ok"}'
    assert (await post(slack, small, {"Content-Type": JSON, **signed(small)}))[0] == 200


Edge = tuple[str, slack_http.SlackEdge, int]


@pytest.fixture
async def narrow_edge(slack: SlackHarness) -> AsyncIterator[Any]:
    """The same web app with one reader and the given waits, on its own port."""
    runners: list[web.AppRunner] = []

    async def start(*, queue_wait: float, read_timeout: float, waiting: int = 32) -> Edge:
        assert slack.service is not None
        limits = EdgeLimits(readers=1, waiting=waiting, queue_wait=queue_wait, read_timeout=read_timeout)
        web_app = build_web_app(slack.service.app, SECRET, limits)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/slack/events", web_app[EDGE], port

    yield start
    for runner in runners:
        await runner.cleanup()


async def _half_sent(port: int, body: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A request that declares `body` but sends only its first 10 bytes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = ["POST /slack/events HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {JSON}"]
    head += [f"{k}: {v}" for k, v in signed(body).items()] + [f"Content-Length: {len(body)}"]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body[:10])
    await writer.drain()
    return reader, writer


async def _until(predicate: Any) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_reads_in_flight_are_bounded_and_excess_gets_503(narrow_edge: Any, slack: SlackHarness) -> None:
    url, edge, port = await narrow_edge(queue_wait=0.05, read_timeout=30.0)
    body = b'{"type":"url_verification","challenge":"held"}'
    _, writer = await _half_sent(port, body)
    await _until(lambda: edge.reading == 1)
    assert slack.http is not None
    async with slack.http.post(url, data=body, headers={"Content-Type": JSON, **signed(body)}) as resp:
        assert resp.status == 503  # the one reader is busy
    writer.close()
    await _until(lambda: edge.reading == 0)
    async with slack.http.post(url, data=body, headers={"Content-Type": JSON, **signed(body)}) as resp:
        assert resp.status == 200


async def test_requests_beyond_the_waiting_room_get_503_at_once(narrow_edge: Any, slack: SlackHarness) -> None:
    url, edge, port = await narrow_edge(queue_wait=30.0, read_timeout=30.0, waiting=0)
    body = b'{"type":"url_verification","challenge":"held"}'
    _, writer = await _half_sent(port, body)
    await _until(lambda: edge.reading == 1)
    assert slack.http is not None
    async with slack.http.post(url, data=body, headers={"Content-Type": JSON, **signed(body)}) as resp:
        assert resp.status == 503 and resp.headers.get("Retry-After") == "1"  # no room to wait: not 30 s
    writer.close()
    await _until(lambda: edge.reading == 0)


async def test_a_body_that_never_ends_is_408_and_frees_its_reader(narrow_edge: Any, slack: SlackHarness) -> None:
    url, edge, port = await narrow_edge(queue_wait=30.0, read_timeout=0.2)
    body = b'{"type":"url_verification","challenge":"slow"}'
    reader, writer = await _half_sent(port, body)
    assert b" 408 " in await reader.readline()
    writer.close()
    await _until(lambda: edge.reading == 0)
    assert slack.http is not None
    async with slack.http.post(url, data=body, headers={"Content-Type": JSON, **signed(body)}) as resp:
        assert resp.status == 200


async def test_a_sender_that_hangs_up_mid_body_frees_its_reader(
    narrow_edge: Any, slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url, edge, port = await narrow_edge(queue_wait=0.05, read_timeout=30.0)
    body = b'{"type":"url_verification","challenge":"gone"}'
    _, writer = await _half_sent(port, body)
    await _until(lambda: edge.reading == 1)
    writer.close()
    await _until(lambda: edge.reading == 0)
    assert slack.http is not None
    async with slack.http.post(url, data=body, headers={"Content-Type": JSON, **signed(body)}) as resp:
        assert resp.status == 200
    assert tracebacks(caplog) == []


async def test_health_stays(slack: SlackHarness) -> None:
    assert slack.http is not None and slack.service is not None
    async with slack.http.get(f"http://127.0.0.1:{slack.service.port}/healthz") as resp:
        assert resp.status == 200


async def test_a_normal_signed_mention_still_makes_a_project(slack: SlackHarness) -> None:
    await slack.mention("[writing] Write a toast for a wedding")
    await slack.settle()
    assert await slack.project_count() == 1


def test_slash_command_body_helper_is_what_the_edge_expects() -> None:
    # the fake's helper and Slack's documented fields agree with COMMAND_FIELDS
    form = dict(
        pair.split("=", 1) for pair in slash_command_body("/draft", "x", user_id="U", channel_id="C").split("&")
    )
    from adapters.chat.slack.shapes import COMMAND_FIELDS

    assert all(form.get(key) for key in COMMAND_FIELDS)
