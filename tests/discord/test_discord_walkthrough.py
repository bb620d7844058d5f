"""The local Discord walkthrough of the README, through the fake's command line: `say` posts as a
member, `click` presses a button, `state` prints what the bot did (tests/fakes/discord_api.py)."""

from __future__ import annotations

import asyncio

import pytest

from tests.discord.conftest import DiscordHarness, sqlite_only
from tests.fakes.discord_api import main


async def _cli(*argv: str) -> None:
    # the command line runs its own event loop, as it does in a second terminal
    await asyncio.to_thread(main, list(argv))


@sqlite_only()
async def test_say_click_and_state_drive_a_project_to_acceptance(
    dc: DiscordHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = dc.fake
    await _cli("say", "[writing] a haiku about tea", "--fake", fake.url)
    request = fake.messages[fake.order[-1]]
    assert request["content"] == f"<@{fake.bot.id}> [writing] a haiku about tea"  # a mention outside threads
    thread = await dc.thread_of(request)
    await dc.draft(thread, 1)
    await _cli("say", "shorter, please. 5m", "--thread", "#1", "--user", "alice", "--fake", fake.url)
    await dc.draft(thread, 2)
    await _cli("click", "accept", "--thread", "1", "--fake", fake.url)
    await dc.said(thread, "accepted at v2 by alice")
    await _cli("state", "--fake", fake.url)
    out = capsys.readouterr().out
    assert "alice in general: message" in out
    assert "alice in #1 a haiku about tea: message" in out
    assert "alice clicked Accept" in out
    assert "gateway connections: 1" in out
    assert "[#1 a haiku about tea] alice: 'shorter, please. 5m'" in out
    assert "[buttons]: Accept, Request changes, Reject" in out
    assert "[#1 a haiku about tea] draftloop: '✅ #1 accepted at v2 by alice.'" in out


@sqlite_only()
async def test_the_client_names_what_it_cannot_find(dc: DiscordHarness, capsys: pytest.CaptureFixture[str]) -> None:
    fake = dc.fake
    for argv, said in [
        (("say", "hi", "--thread", "#9"), "no thread for project #9 yet"),
        (("say", "hi", "--user", "zed"), "no member 'zed'; there are alice, wendy"),
        (("say", "hi", "--channel", "random"), "no channel 'random'; there are general, requests, jobs"),
        (("click", "accept", "--thread", "general"), "no 'accept' button in general"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            await _cli(*argv, "--fake", fake.url)
        assert exit_.value.code == 1
        assert capsys.readouterr().err.startswith(f"fake Discord: {said}")
