"""Socket Mode (`draftloop worker` with SLACK_APP_TOKEN): the same loop over the fake's WebSocket."""

from __future__ import annotations

from typing import Any

from adapters.chat.slack import service as slack_service
from bot.app.runtime import Runtime
from bot.states import State
from tests.fakes.slack_api import FakeSlackAPI, event_envelope
from tests.slack.conftest import CHANNEL, REQUESTER, SlackHarness


async def test_socket_mode_runs_the_loop_and_drops_redeliveries(fake_slack: FakeSlackAPI, slack_settings: Any) -> None:
    settings = slack_settings(fake_slack, slack_app_token="xapp-1-test", slack_signing_secret=None)
    runtime = await Runtime.create(settings)
    assert slack_service.create(runtime, "web") is None  # no signing secret: no HTTP endpoint
    service = slack_service.create(runtime, "worker")
    assert service is not None and service.mode == "socket"
    harness = SlackHarness(fake_slack, settings)
    harness.runtime = runtime
    try:
        await service.start()
        await fake_slack.wait_socket()
        msg = fake_slack.add_user_message(CHANNEL, "<@UBOT> [writing] Write a short status update", user=REQUESTER)
        inner = {
            "type": "app_mention",
            "user": REQUESTER,
            "text": msg["text"],
            "ts": msg["ts"],
            "channel": CHANNEL,
            "event_ts": msg["ts"],
        }
        envelope = event_envelope(inner)
        first = await fake_slack.socket_send("events_api", envelope)
        again = await fake_slack.socket_send("events_api", envelope, retry_attempt=1)
        await fake_slack.wait_until(lambda: {first, again} <= set(fake_slack.socket_acks))
        await harness.settle()
        assert await harness.project_count() == 1
        assert len(harness.drafts()) == 1

        draft = harness.drafts()[-1]
        reaction = {
            "type": "reaction_added",
            "user": REQUESTER,
            "reaction": "white_check_mark",
            "item_user": "UBOT",
            "item": {"type": "message", "channel": CHANNEL, "ts": draft["ts"]},
            "event_ts": "1.1",
        }
        await fake_slack.socket_send("events_api", event_envelope(reaction))
        await harness.settle()
        assert (await harness.project(1)).state == State.ACCEPTED.value
        assert fake_slack.counts()["apps.connections.open"] >= 1
    finally:
        await service.stop()
        await runtime.close()


async def test_worker_without_app_token_is_outbound_only(fake_slack: FakeSlackAPI, slack_settings: Any) -> None:
    runtime = await Runtime.create(slack_settings(fake_slack))
    try:
        service = slack_service.create(runtime, "worker")
        assert service is not None and service.mode == "outbound"
        await service.start()
        assert "slack" in runtime.workflow.platforms  # scheduled digests can still post
        await service.stop()
        assert slack_service.create(runtime, "chat") is None
    finally:
        await runtime.close()
