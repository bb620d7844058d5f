"""Property tests of the HTTP edge: whatever arrives at /slack/events, the answer is never a 5xx.

Two kinds of input, both as real HTTP to the real web app: arbitrary bytes under arbitrary
headers (signed with the right secret or not), and Slack's own payloads, signed, with fields
removed or swapped for values of the wrong type (what bolt's middleware and the listeners read).
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.chat.slack import blocks as sb, forms
from tests.fakes.slack_api import event_envelope
from tests.slack.conftest import CHANNEL, REQUESTER, SlackHarness
from tests.slack.test_slack_edge import FORM, JSON, post, signed

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
CONTENT_TYPES = st.one_of(
    st.sampled_from([JSON, FORM, f"{JSON}; charset=utf-8", f"{FORM}; charset=latin-1", "text/plain", ""]),
    HEADER_TEXT,
)


# The edge and what it hands requests to; errors in the work a listener spawns are the workflow's.
EDGE_LOGGERS = ("aiohttp", "slack_bolt", "adapters.chat.slack.http", "adapters.chat.slack.service")


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.name.startswith(EDGE_LOGGERS) and (r.levelno >= logging.ERROR or r.exc_info)
    ]


@PROPERTY
@given(
    body=st.binary(max_size=2048),
    content_type=CONTENT_TYPES,
    stamp=st.one_of(st.none(), st.just("now"), HEADER_TEXT),
    signature=st.one_of(st.sampled_from(["right", "absent"]), HEADER_TEXT),
)
async def test_arbitrary_bytes_and_headers_never_get_a_5xx(
    slack: SlackHarness,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    stamp: str | None,
    signature: str,
) -> None:
    caplog.set_level(logging.INFO)
    headers = {"Content-Type": content_type}
    right = signed(body)
    if stamp is not None:
        headers["X-Slack-Request-Timestamp"] = right["X-Slack-Request-Timestamp"] if stamp == "now" else stamp
    if signature == "right":
        headers["X-Slack-Signature"] = right["X-Slack-Signature"]
    elif signature != "absent":
        headers["X-Slack-Signature"] = signature
    status, _, _ = await post(slack, body, headers)
    assert status < 500
    if headers.get("X-Slack-Signature") != right["X-Slack-Signature"] or stamp != "now":
        assert status == 401 or (status == 200 and body.startswith(b"ssl_check")), status
    assert _errors(caplog) == []


# ---------------------------------------------------------------------- Slack's payloads, mutated

USER = {"id": REQUESTER, "username": "req", "name": "req", "team_id": "T0001"}
TEAM = {"id": "T0001", "domain": "example"}
MESSAGE = {
    "type": "message",
    "user": "UBOT",
    "text": "draft",
    "ts": "1700000000.000100",
    "thread_ts": "1700000000.000001",
}
VIEW = {
    "id": "V1",
    "type": "modal",
    "callback_id": forms.DRAFT_FORM,
    "private_metadata": json.dumps({"channel": CHANNEL}),
    "state": {"values": {"brief": {"brief": {"type": "plain_text_input", "value": "Write a note"}}}},
}
EVENTS = [
    event_envelope(
        {"type": "app_mention", "user": REQUESTER, "text": "<@UBOT> hi", "ts": "1.000001", "channel": CHANNEL}
    ),
    event_envelope(
        {
            "type": "message",
            "user": REQUESTER,
            "text": "shorter",
            "ts": "1.000003",
            "thread_ts": "1.000001",
            "channel": CHANNEL,
            "channel_type": "channel",
            "files": [{"name": "a.txt", "size": 3, "filetype": "txt"}],
        }
    ),
    event_envelope(
        {
            "type": "reaction_added",
            "user": REQUESTER,
            "reaction": "x",
            "item_user": "UBOT",
            "item": {"type": "message", "channel": CHANNEL, "ts": "1.000002"},
        }
    ),
    {"type": "url_verification", "challenge": "c", "token": "t"},
]
INTERACTIONS = [
    {
        "type": "block_actions",
        "user": USER,
        "team": TEAM,
        "trigger_id": "t.1",
        "container": {"type": "message", "message_ts": MESSAGE["ts"], "channel_id": CHANNEL},
        "channel": {"id": CHANNEL, "name": "general"},
        "message": MESSAGE,
        "actions": [{"action_id": sb.ACTION_ACCEPT, "block_id": "b", "type": "button", "value": "1", "action_ts": "1"}],
    },
    {"type": "view_submission", "user": USER, "team": TEAM, "trigger_id": "t.2", "view": VIEW},
    {
        "type": "message_action",
        "user": USER,
        "team": TEAM,
        "callback_id": forms.SHORTCUT,
        "trigger_id": "t.3",
        "channel": {"id": CHANNEL},
        "message": {**MESSAGE, "user": REQUESTER},
        "response_url": "http://127.0.0.1:9/r",
    },
]
COMMAND = {
    "token": "legacy",
    "team_id": "T0001",
    "channel_id": CHANNEL,
    "user_id": REQUESTER,
    "user_name": "req",
    "command": "/draftloop",
    "text": "status 1",
    "response_url": "http://127.0.0.1:9/r",
    "trigger_id": "t.4",
}
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from(["", "x", "1", "/draft", "payload", "ssl_check"]),
    st.just([]),
    st.just({}),
    st.just(["x"]),
    st.just({"id": 1}),
    st.just([{"id": None}]),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, sub in value.items():
            out += _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            out += _paths(sub, (*prefix, i))
    return out


def _mutate(value: Any, path: tuple[Any, ...], new: Any, delete: bool) -> None:
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = new


@settings(PROPERTY, max_examples=40)
@given(data=st.data(), kind=st.sampled_from(["event", "interaction", "command"]))
async def test_signed_slack_payloads_with_wrong_fields_never_get_a_5xx(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture, data: st.DataObject, kind: str
) -> None:
    caplog.set_level(logging.INFO)
    templates = {"event": EVENTS, "interaction": INTERACTIONS, "command": [COMMAND]}[kind]
    payload = json.loads(json.dumps(data.draw(st.sampled_from(templates))))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(payload)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        new = data.draw(ODD_VALUES if kind != "command" else st.sampled_from(["", "x", "/x"]))
        _mutate(payload, path, copy.deepcopy(new), data.draw(st.booleans()))  # st.just shares its object
    if kind == "event":
        body, content_type = json.dumps(payload), JSON
    elif kind == "interaction":
        body, content_type = urlencode({"payload": json.dumps(payload)}), FORM
    else:
        body, content_type = urlencode(payload), FORM
    status, headers, _ = await post(slack, body, {"Content-Type": content_type, **signed(body.encode())})
    assert status < 500
    if status == 400:
        assert headers.get("X-Slack-No-Retry") == "1"
    await slack.settle()  # listener errors after the ack surface in bolt's log
    assert _errors(caplog) == []
