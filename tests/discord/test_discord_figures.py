"""REST calls per full Discord loop, counted on the fake: request → v1 → feedback → v2 → accept.

Printed with `-s`; the bounds are today's counts, so a change that adds calls to the loop fails here.
Before drafts were one Components V2 message (issue 17): 7 (mention), 6 (forum), 9 (3,000-character
drafts, each split over two messages). A forum board adds one call per state change of a post.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.discord.conftest import CONFIG, DiscordHarness, sqlite_only
from tests.fakes.discord_api import MANAGE_CHANNELS, MANAGE_THREADS, FakeDiscord, buttons
from tests.fakes.llm_server import FakeLLMServer

pytestmark = sqlite_only()


def _print(title: str, calls: Counter[tuple[str, str]]) -> None:
    print(f"\nREST calls, {title}: {sum(calls.values())}")
    for (method, route), count in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:3d}  {method} {route}")


async def _drafts(dc: DiscordHarness, thread: int, count: int) -> dict[str, Any]:
    def shown() -> list[dict[str, Any]]:
        found = [m for m in dc.fake.bot_messages(thread) if buttons(m)]
        return found if len(found) >= count else []

    found = await dc.fake.wait_for(shown, timeout=20, what=f"{count} drafts")
    await dc.idle()
    return found[-1]


async def _loop(dc: DiscordHarness, thread: int) -> None:
    fake = dc.fake
    await _drafts(dc, thread, 1)
    await fake.message(thread, fake.wendy, "Shorter intro, please. 10m")
    v2 = await _drafts(dc, thread, 2)
    await fake.click(fake.alice, v2, "draftloop:accept:1")
    await dc.said(thread, "accepted at v2")
    await dc.idle()


async def _mention_loop(dc: DiscordHarness) -> Counter[tuple[str, str]]:
    fake = dc.fake
    start = len(fake.calls)
    request = await fake.message(fake.general, fake.alice, "[writing] a post on onboarding", mention=True)
    await _loop(dc, await dc.thread_of(request))
    assert all(c.status < 400 for c in fake.calls[start:])
    return fake.calls_since(start)


async def test_rest_calls_per_mention_loop(dc: DiscordHarness) -> None:
    calls = await _mention_loop(dc)
    _print("mention loop (short drafts)", calls)
    assert sum(calls.values()) <= 7


async def _forum_loop(dc: DiscordHarness) -> Counter[tuple[str, str]]:
    fake: FakeDiscord = dc.fake
    start = len(fake.calls)
    thread, _ = await fake.forum_post(fake.alice, "Onboarding post", "[writing] a post on onboarding")
    await _loop(dc, int(thread["id"]))
    assert all(c.status < 400 for c in fake.calls[start:])
    return fake.calls_since(start)


async def test_rest_calls_per_forum_loop(dc: DiscordHarness) -> None:
    calls = await _forum_loop(dc)
    _print("forum loop, no permission for tags (short drafts)", calls)
    assert sum(calls.values()) <= 6


async def test_rest_calls_per_forum_loop_with_a_board(
    fake_discord: FakeDiscord, harness_factory: Callable[..., Any]
) -> None:
    fake_discord.grant(MANAGE_CHANNELS, MANAGE_THREADS)
    dc: DiscordHarness = await harness_factory()
    calls = await _forum_loop(dc)
    _print("forum loop with state tags (short drafts)", calls)
    assert sum(calls.values()) <= 11  # 6, and 5 tag changes: drafting, in review, drafting, in review, accepted


async def test_rest_calls_per_reject_with_a_reason(dc: DiscordHarness) -> None:
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a post on onboarding", mention=True)
    thread = await dc.thread_of(request)
    v1 = await _drafts(dc, thread, 1)
    start = len(fake.calls)
    await dc.reject(fake.alice, v1, 1, reason="tone", comment="Warmer, please.")
    await dc.said(thread, "Reason: tone")
    await dc.idle()
    calls = fake.calls_since(start)
    _print("reject with a reason (the form, its answer, the notice)", calls)
    assert sum(calls.values()) <= 3


def _sized(model: str, prompt: str) -> str:
    paragraphs = [f"Paragraph {i}. " + "The quick brown fox jumps over the lazy dog. " * 7 for i in range(1, 60)]
    return "\n\n".join(paragraphs)[:3000]


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer(reply=_sized, chunk_words=400) as server:
        yield server


async def test_rest_calls_per_loop_with_3000_character_drafts(
    harness_factory: Callable[..., Any], llm: FakeLLMServer
) -> None:
    toml = f"""
default_agent = "sized"

[agents.sized]
provider = "openai-compatible"
model = "fake-sized"
base_url = "{llm.openai_base_url}"
{CONFIG}"""
    dc: DiscordHarness = await harness_factory(toml, draftloop_agent="sized")
    calls = await _mention_loop(dc)
    _print("mention loop (3,000-character drafts)", calls)
    assert sum(calls.values()) <= 7
