"""Compare two agents on Discord and Slack, through the real client libraries against the fakes:
Discord's `/draft` option `compare: True`, Slack's `/draft --compare …`; A and B shown in the
thread, and `pick B` typed there picks B, or a click on the "pick one" notice's Pick B button."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from storage import routing
from tests.discord.conftest import (  # noqa: F401  (the Discord harness's fixtures)
    DiscordHarness,
    discord_settings,
    fake_discord,
    harness_factory,
    sqlite_only,
)
from tests.fakes.discord_components import buttons, text_of
from tests.slack.conftest import (  # noqa: F401  (the Slack harness's fixtures)
    CHANNEL,
    EXPERT,
    REQUESTER,
    SlackHarness,
    fake_slack,
    slack_settings,
)

AGENTS = """
[agents.good]
provider = "offline"
model = "good-v1"

[agents.bad]
provider = "offline"
model = "bad-v1"
"""

DISCORD = (
    AGENTS
    + """
[discord]
admin_roles = ["Moderators"]

[categories.writing]
expert_roles = ["Writers"]
agent = "good"
fallback = ["bad"]
"""
)


@sqlite_only()
async def test_discord_draft_with_compare_shows_a_and_b_and_a_typed_pick(harness_factory: Any) -> None:  # noqa: F811
    dc: DiscordHarness = await harness_factory(DISCORD)
    fake = dc.fake
    ix = await fake.slash(
        fake.alice, fake.general, "draft", {"brief": "a tagline for a bakery", "category": "writing", "compare": True}
    )
    await fake.wait_for(lambda: ix.responses, what="the /draft answer")
    origin = fake.messages[ix.original_id or 0]
    assert "compare two agents" in origin["content"] and "--compare" not in origin["content"]
    thread = await dc.thread_of(origin)
    await dc.said(thread, "Comparing two agents: A is good, B is bad")
    a = await dc.said(thread, "**A** · agent good (good-v1)")
    b = await dc.said(thread, "**B** · agent bad (bad-v1)")
    assert int(a["id"]) < int(b["id"])
    await dc.said(thread, "reply `pick A` or `pick B`")
    await dc.idle()
    await fake.message(thread, fake.alice, "pick B")
    await dc.said(thread, "#1: B (bad) picked by")
    await dc.idle()
    project = await dc.project(1)
    assert (project.agent, project.model) == ("bad", "bad-v1")
    async with dc.runtime.db.session() as session:
        kept = await routing.get_comparison(session=session, project_id=1)
    assert kept is not None and kept.picked == "B"


async def test_slack_draft_compare_flag_shows_a_and_b_and_a_typed_pick(
    fake_slack: Any,  # noqa: F811  (the fixture imported above)
    slack_settings: Any,  # noqa: F811
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _slack(fake_slack, slack_settings, tmp_path, monkeypatch, agent="good", fallback="bad") as slack:
        status, _ = await slack.command("/draft", "--compare [writing] a welcome note", user=REQUESTER)
        assert status == 200
        await slack.settle()
        project = await slack.project(1)
        assert project.brief == "a welcome note" and project.category == "writing"
        said = [_text(m) for m in slack.fake.bot_messages(CHANNEL) if m.get("thread_ts") == project.thread_id]
        a = next(i for i, t in enumerate(said) if "agent good (good-v1)" in t and "B" not in t.split("agent")[0])
        b = next(i for i, t in enumerate(said) if "agent bad (bad-v1)" in t)
        assert a < b and any("reply `pick A` or `pick B`" in t for t in said)
        assert len(slack.drafts()) == 1  # decision buttons on A only
        await slack.reply(project.thread_id or "", "pick B", user=EXPERT)
        await slack.settle()
        project = await slack.project(1)
        assert (project.agent, project.model) == ("bad", "bad-v1")
        said = [_text(m) for m in slack.fake.bot_messages(CHANNEL) if m.get("thread_ts") == project.thread_id]
        assert any("#1: B (bad) picked by" in t for t in said)


@sqlite_only()
async def test_discord_pick_buttons_pick_b_and_refuse_a_second_pick_and_an_outsider(
    harness_factory: Any,  # noqa: F811
) -> None:
    dc: DiscordHarness = await harness_factory(DISCORD)
    fake = dc.fake
    ix = await fake.slash(
        fake.alice, fake.general, "draft", {"brief": "a tagline for a tea shop", "category": "writing", "compare": True}
    )
    await fake.wait_for(lambda: ix.responses, what="the /draft answer")
    thread = await dc.thread_of(fake.messages[ix.original_id or 0])
    choose = await dc.said(thread, "reply `pick A` or `pick B`")
    assert [b["custom_id"] for b in buttons(choose)] == ["draftloop:pick:1:A", "draftloop:pick:1:B"]
    assert [b["label"] for b in buttons(choose)] == ["Pick A", "Pick B"]
    await dc.idle()

    outsider = await fake.click(fake.eve, choose, "draftloop:pick:1:A")  # neither the requester nor an expert

    def told_privately() -> list[dict[str, Any]]:
        return [m for m in fake.bot_messages(thread) if int(m["flags"]) & 64 and "Not allowed" in text_of(m)]

    assert len(await fake.wait_for(told_privately, what="an ephemeral 'not allowed'")) == 1
    assert outsider.response_type == 6
    await dc.idle()
    project = await dc.project(1)
    assert (project.agent, project.model) == ("good", "good-v1")  # nothing picked
    shown = fake.messages[int(choose["id"])]
    assert len(buttons(shown)) == 2  # a refused click leaves the buttons for those who may pick

    await dc.restart()  # the buttons still answer after a restart
    click = await fake.click(fake.wendy, choose, "draftloop:pick:1:B")
    await fake.wait_for(lambda: click.responses, what="the defer")
    assert click.response_type == 6  # answered within Discord's 3 s
    await dc.said(thread, "#1: B (bad) picked by")
    await dc.idle()
    project = await dc.project(1)
    assert (project.agent, project.model) == ("bad", "bad-v1")
    shown = fake.messages[int(choose["id"])]  # the "pick one" message now says what was picked
    assert "#1: B (bad) was picked by" in text_of(shown) and "pick A` or `pick B" not in text_of(shown)
    assert buttons(shown) == []

    await fake.message(thread, fake.alice, "pick A")  # a second pick, typed, is refused
    await dc.said(thread, "B was picked already")
    await dc.idle()
    async with dc.runtime.db.session() as session:
        kept = await routing.get_comparison(session=session, project_id=1)
    assert kept is not None and kept.picked == "B"


async def test_slack_pick_button_picks_the_fallbacks_draft(
    fake_slack: Any,  # noqa: F811
    slack_settings: Any,  # noqa: F811
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _slack(fake_slack, slack_settings, tmp_path, monkeypatch, agent="bad", fallback="good") as slack:
        await slack.command("/draft", "--compare [writing] a note for new hires", user=REQUESTER)
        await slack.settle()
        project = await slack.project(1)
        assert (project.agent, project.model) == ("bad", "bad-v1")
        in_thread = [m for m in slack.fake.bot_messages(CHANNEL) if m.get("thread_ts") == project.thread_id]
        choose = next(m for m in in_thread if "reply `pick A` or `pick B`" in _text(m))
        picks = [e for b in choose["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert [(e["text"]["text"], e["value"]) for e in picks] == [("Pick A", "1:A"), ("Pick B", "1:B")]

        status, _ = await slack.click(choose, "dl_pick_B", user=EXPERT)
        assert status == 200
        await slack.settle()
        project = await slack.project(1)
        assert (project.agent, project.model) == ("good", "good-v1")  # B was the fallback, good
        said = [_text(m) for m in slack.fake.bot_messages(CHANNEL) if m.get("thread_ts") == project.thread_id]
        assert any("#1: B (good) picked by" in t for t in said)
        # the "pick one" message now says what was picked, its buttons gone
        shown = next(m for m in slack.fake.bot_messages(CHANNEL) if m["ts"] == choose["ts"])
        assert "#1: B (good) was picked by" in _text(shown) and "pick A` or `pick B" not in _text(shown)
        assert not [b for b in shown.get("blocks") or [] if b["type"] == "actions"]


@asynccontextmanager
async def _slack(
    fake: Any, settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, *, agent: str, fallback: str
) -> AsyncIterator[SlackHarness]:
    """A started Slack harness whose writing category drafts with `agent` and compares with `fallback`."""
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "compare.toml"
    config.write_text(
        AGENTS + f'[categories.writing]\nexperts = ["{EXPERT}"]\nagent = "{agent}"\nfallback = ["{fallback}"]\n'
    )
    slack = SlackHarness(fake, settings(fake, draftloop_config=config))
    await slack.start()
    try:
        yield slack
    finally:
        await slack.close()


def _text(message: dict[str, Any]) -> str:
    """A Slack message as a reader sees it: its text and its blocks' texts."""
    parts = [str(message.get("text") or "")]
    parts += [json.dumps(block) for block in message.get("blocks") or []]
    return "\n".join(parts)
