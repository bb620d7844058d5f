"""On Slack a display name or `user.name` grants nothing: only user ids and user-group ids decide.

Driven through signed requests to the web app of `draftloop serve`, as Slack sends them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.chat.slack import blocks as sb
from bot.states import State
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import CHANNEL, REQUESTER, SlackHarness, block_actions, button_in
from tests.slack.test_slack_native import _submitted

EXPERT = "UEXP"
ADMIN = "UADMIN"
GROUP_ADMIN = "U0GROUPADM"
MALLORY = "U0MALLORY"

CONFIG = f"""
admins = ["boss", "{ADMIN}"]
[slack]
admins = ["S0ADMINS"]
[categories.writing]
experts = ["wendy", "{EXPERT}"]
"""


@pytest.fixture
async def named(
    fake_slack: FakeSlackAPI, slack_settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SlackHarness]:
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "named.toml"
    config.write_text(CONFIG)
    fake_slack.usergroups["S0ADMINS"] = [GROUP_ADMIN]
    harness = SlackHarness(fake_slack, slack_settings(fake_slack, draftloop_config=config))
    await harness.start()
    try:
        yield harness
    finally:
        await harness.close()


async def click_as(slack: SlackHarness, message: dict[str, Any], action_id: str, *, user: str, name: str) -> None:
    """A click whose payload names the clicker `name` (user.name and username), as a member may choose."""
    payload = block_actions(
        message, button_in(message, action_id), user=user, channel=CHANNEL, response_url=slack.fake.response_url()
    )
    payload["user"].update({"name": name, "username": name})
    status, _ = await slack.interact(payload)
    assert status == 200
    await slack.settle()


def refusals(slack: SlackHarness, user: str) -> list[str]:
    return [e["text"] for e in slack.fake.ephemerals if e["user"] == user and "Not allowed" in e["text"]]


async def test_names_in_the_payload_cannot_accept_or_reject(named: SlackHarness) -> None:
    slack = named
    await slack.mention("[writing] Write a short welcome note")
    await slack.settle()
    draft = slack.drafts()[-1]

    await click_as(slack, draft, sb.ACTION_ACCEPT, user=MALLORY, name="wendy")  # an expert's name
    await click_as(slack, draft, sb.ACTION_REJECT, user="U0BOSSY", name="boss")  # an admin's name
    project = await slack.project(1)
    assert project.state == State.IN_REVIEW.value and project.decided_at is None
    assert len(refusals(slack, MALLORY)) == 1 and len(refusals(slack, "U0BOSSY")) == 1

    await click_as(slack, draft, sb.ACTION_ACCEPT, user=EXPERT, name="someone")  # the expert's id
    assert (await slack.project(1)).state == State.ACCEPTED.value


async def test_admin_by_user_id_and_by_user_group(named: SlackHarness) -> None:
    slack = named
    for n, admin in ((1, ADMIN), (2, GROUP_ADMIN)):
        await slack.mention(f"[writing] Write note number {n}", user=REQUESTER)
        await slack.settle()
        await click_as(slack, slack.drafts()[-1], sb.ACTION_REJECT, user=admin, name="x")
        # Reject opens the reasons form for someone who may decide; submitting it decides.
        await slack.fake.wait_until(lambda n=n: len(slack.fake.views) >= n)
        await slack.interact(_submitted(slack.fake.views[-1]["view"], admin, "other", ""))
        await slack.settle()
        assert (await slack.project(n)).state == State.REJECTED.value
    assert slack.fake.counts()["usergroups.users.list"] >= 1
