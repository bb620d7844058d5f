"""Compare two agents on Discord and Slack, through the real client libraries against the fakes:
Discord's `/draft` option `compare: True`, Slack's `/draft --compare …`; A and B shown in the
thread, and `pick B` typed there picks B."""

from __future__ import annotations

import json
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
    fake = fake_slack
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "compare.toml"
    config.write_text(AGENTS + f'[categories.writing]\nexperts = ["{EXPERT}"]\nagent = "good"\nfallback = ["bad"]\n')
    slack = SlackHarness(fake, slack_settings(fake, draftloop_config=config))
    await slack.start()
    try:
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
    finally:
        await slack.close()


def _text(message: dict[str, Any]) -> str:
    """A Slack message as a reader sees it: its text and its blocks' texts."""
    parts = [str(message.get("text") or "")]
    parts += [json.dumps(block) for block in message.get("blocks") or []]
    return "\n".join(parts)
