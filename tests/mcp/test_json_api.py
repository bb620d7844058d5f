"""The JSON API on `draftloop serve` (adapters/mcp/http_api.py): the serve process's own services (the
API's routes, Slack, the sweeper) on the Slack fake, an expert answering in the Slack thread; the same
bearer token as `draftloop mcp --http`; mistakes as 4xx with one sentence, nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.app.runtime import Runtime, load_services
from tests.fakes.slack_api import FakeSlackAPI
from tests.mcp.conftest import TOKEN
from tests.slack.conftest import CHANNEL, EXPERT, GROUP, SlackHarness, fake_slack, slack_settings

__all__ = ["fake_slack", "slack_settings"]  # the Slack suite's fixtures, used here

AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Draftloop-Agent": "ci-release-bot"}


@pytest.fixture
async def serve(fake_slack: FakeSlackAPI, slack_settings: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    harness = SlackHarness(fake_slack, slack_settings(fake_slack, draftloop_mcp_token=TOKEN))
    harness.runtime = runtime = await Runtime.create(harness.settings)
    services = load_services(runtime, "web")  # as `draftloop serve` does
    assert sorted(s.name for s in services) == ["slack", "sweeper"]  # the API is routes, not a service
    slack: Any = services[0] if services[0].name == "slack" else services[1]
    slack.host = "127.0.0.1"
    await slack.start()
    harness.service = slack
    harness.http = aiohttp.ClientSession()
    try:
        yield harness
    finally:
        await harness.close()


def _url(harness: SlackHarness, path: str = "") -> str:
    assert harness.service is not None
    return f"http://127.0.0.1:{harness.service.port}/api/projects{path}"


async def _call(
    harness: SlackHarness, method: str, path: str = "", *, headers: dict[str, str] = AUTH, **kw: Any
) -> tuple[int, Any]:
    assert harness.http is not None
    async with harness.http.request(method, _url(harness, path), headers=headers, **kw) as response:
        body = await response.json() if response.content_type == "application/json" else await response.text()
        return response.status, body


async def test_a_full_exchange_over_the_json_api_with_an_expert_in_slack(serve: SlackHarness) -> None:
    status, opened = await _call(
        serve, "POST", json={"brief": "[writing] changelog for 2.0", "draft": "v1 text", "channel": f"slack:{CHANNEL}"}
    )
    assert status == 201 and opened["agent"] == "external:ci-release-bot" and opened["asked"] == [EXPERT, GROUP]
    number, thread = opened["number"], opened["thread"]["thread"]
    assert opened["thread"] == {"platform": "slack", "channel": CHANNEL, "thread": thread}
    [request] = [m for m in serve.fake.bot_messages(CHANNEL) if m["ts"] == thread]
    assert "Review requested by external:ci-release-bot" in request["text"] and request.get("thread_ts") is None
    assert [m["text"] for m in serve.drafts()] and "v1 text" in serve.drafts()[-1]["text"]

    await serve.reply(thread, "Put the migration first. 20m", user=EXPERT)
    await serve.settle()
    status, review = await _call(serve, "GET", f"/{number}", params={"wait_seconds": "5"})
    assert status == 200 and review["waiting_for"] == "you"
    assert [(p["text"], p["expert"], p["stated_minutes"]) for p in review["feedback"]] == [
        ("Put the migration first. 20m", True, 20)
    ]
    status, revised = await _call(serve, "POST", f"/{number}/versions", json={"draft": "v2 text", "notes": "moved"})
    assert status == 201 and revised["version"] == 2 and revised["answered"] == 1
    assert "v2 text" in serve.drafts()[-1]["text"]

    await serve.reply(thread, "accept", user=EXPERT)
    await serve.settle()
    status, done = await _call(serve, "GET", f"/{number}")
    assert done["state"] == "accepted" and done["decision"]["version"] == 2
    status, listed = await _call(serve, "GET", params={"state": "all"})
    assert status == 200 and [p["number"] for p in listed["projects"]] == [number]
    status, text = await _call(serve, "GET", f"/{number}/transcript")
    assert status == 200 and text.startswith(f"# Project #{number} · writing · accepted")
    # Decided: nothing more can be sent.
    status, refused = await _call(serve, "POST", f"/{number}/versions", json={"draft": "v3"})
    assert status == 409 and refused == {
        "error": f"#{number} is already accepted; nothing more can be sent. Start a new request."
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-the-token-at-all"}, {"Authorization": TOKEN}, {"authorization": "Basic x"}],
)
async def test_without_the_token_every_endpoint_is_401(serve: SlackHarness, headers: dict[str, str]) -> None:
    for method, path in [("POST", ""), ("GET", ""), ("GET", "/1"), ("POST", "/1/versions"), ("GET", "/1/transcript")]:
        status, body = await _call(serve, method, path, headers=headers, json={"brief": "x", "draft": "y"})
        assert status == 401 and "DRAFTLOOP_MCP_TOKEN" in body["error"]
    assert await serve.project_count() == 0


async def test_mistakes_are_4xx_with_one_sentence_and_store_nothing(serve: SlackHarness) -> None:
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", "", {"data": b"not json"}, 400, "The body must be a JSON object"),
        ("POST", "", {"json": ["a list"]}, 400, "The body must be a JSON object"),
        ("POST", "", {"json": {"brief": "b" * 20_001, "draft": "d"}}, 400, "The brief is 20,001 characters"),
        ("POST", "", {"json": {"brief": "notes", "draft": "d"}}, 400, "console is not connected here"),
        ("GET", "/7", {}, 404, "There is no project #7."),
        ("GET", "/seven", {}, 400, "'number' must be a project number, like 12."),
        ("GET", "/1", {"params": {"wait_seconds": "soon"}}, 400, "'wait_seconds' must be a number of seconds"),
    ]
    for method, path, kw, status, said in cases:
        got, body = await _call(serve, method, path, **kw)
        assert (got, body["error"][: len(said)]) == (status, said)
    assert await serve.project_count() == 0 and serve.fake.bot_messages(CHANNEL) == []
    status, opened = await _call(serve, "POST", json={"brief": "x", "draft": "y", "channel": f"slack:{CHANNEL}"})
    other = {**AUTH, "X-Draftloop-Agent": "someone-else"}
    status, body = await _call(serve, "GET", f"/{opened['number']}", headers=other)
    assert status == 403 and "was not opened by external:someone-else" in body["error"]
