"""Nothing a person or a model writes notifies anyone on Discord (issue 11, item 2).

Discord notifies from a message's `allowed_mentions`, so the assertions are on the JSON the real
discord.py client sent to the fake: `parse` is empty and only the ids draftloop chose are listed, on every
send, edit, follow-up and private fallback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.chat.discord.platform import DiscordPlatform
from adapters.chat.discord.safe import undisguise
from adapters.chat.discord.service import configure_urls
from bot.events import Actor
from bot.ports import ThreadRef
from bot.replies import DraftHeader, Reply, ReplyKind
from tests.discord.conftest import CONFIG, DiscordHarness, sqlite_only
from tests.fakes.discord_api import FakeDiscord, text_of
from tests.fakes.llm_server import FakeLLMServer

ROLE, USER = 111_111_111_111_111_111, 222_222_222_222_222_222
CHOSEN = (f"<@&{ROLE}>", str(USER), "@everyone", "here", "Writers")  # only the first two are ids

HOSTILE = [
    "@everyone",
    "@here",
    "<@&333333333333333333>",
    f"<@&{ROLE}>",
    "<@444444444444444444>",
    "<@!444444444444444444>",
    "<#555555555555555555>",
    "[https://discord.com](https://evil.example)",
    "`",
    "```",
    "\n\n",
    "**",
    "<",
    ">",
    "@",
    "&",
]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12)), max_size=30).map("".join)


@pytest.fixture
async def platform(fake_discord: FakeDiscord) -> AsyncIterator[DiscordPlatform]:
    """The platform over a real discord.py client logged into the fake's REST API (no gateway needed)."""
    configure_urls(fake_discord.api_base, None)
    client = discord.Client(intents=discord.Intents.none())
    await client.login(fake_discord.token)
    try:
        yield DiscordPlatform(client)
    finally:
        await client.close()


class Edits:
    """The JSON bodies of message edits as the fake received them (its store keeps only the result)."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.bodies: list[dict[str, Any]] = []
        inner = fake._edit

        async def record(mid: int, payload: dict[str, Any], files: list[tuple[str, bytes]]) -> Any:
            self.bodies.append(payload)
            return await inner(mid, payload, files)

        fake._edit = record  # type: ignore[method-assign]


def assert_limited(
    allowed: dict[str, Any] | None, *, roles: set[int] = frozenset(), users: set[int] = frozenset()
) -> None:  # type: ignore[assignment]
    assert allowed is not None, "a message without allowed_mentions parses every mention"
    assert allowed["parse"] == [] and not allowed.get("replied_user")
    assert {int(r) for r in allowed.get("roles", [])} <= roles
    assert {int(u) for u in allowed.get("users", [])} <= users


def ids(allowed: dict[str, Any], key: str) -> list[int]:
    return [int(i) for i in allowed.get(key, [])]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile_text, kind=st.sampled_from([ReplyKind.DRAFT, ReplyKind.NOTICE, ReplyKind.ACK]))
async def test_any_text_notifies_only_the_chosen_ids(
    platform: DiscordPlatform, fake_discord: FakeDiscord, text: str, kind: ReplyKind
) -> None:
    fake = fake_discord
    header = DraftHeader(number=1, state="in_review", version=1, category="writing")
    thread = ThreadRef("discord", str(fake.general), "")
    before = len(fake.order)
    await platform.post(thread, Reply(text or ".", kind=kind, header=header, controls=True, mentions=CHOSEN))
    sent = [fake.messages[m] for m in fake.order[before:]]
    assert sent
    for message in sent:
        assert_limited(message["allowed_mentions"], roles={ROLE}, users={USER})
    assert ids(sent[-1]["allowed_mentions"], "roles") == [ROLE]  # the experts' mention stays live
    assert ids(sent[-1]["allowed_mentions"], "users") == [USER]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile_text)
async def test_streaming_edits_notify_only_the_chosen_ids(
    platform: DiscordPlatform, fake_discord: FakeDiscord, text: str
) -> None:
    edits = Edits(fake_discord)
    header = DraftHeader(number=1, state="drafting", version=1)
    thread = ThreadRef("discord", str(fake_discord.general), "")
    ref = await platform.post(thread, Reply("writing…", kind=ReplyKind.PROGRESS, header=header))
    await platform.edit(ref, Reply(text + " ▍", kind=ReplyKind.PROGRESS, header=header))
    await platform.edit(ref, Reply(text * 30 or ".", kind=ReplyKind.DRAFT, header=header, mentions=CHOSEN))
    assert len(edits.bodies) >= 2
    assert_limited(edits.bodies[0]["allowed_mentions"])  # a progress edit allows nobody
    for body in edits.bodies[1:]:
        assert_limited(body["allowed_mentions"], roles={ROLE}, users={USER})


async def test_private_notice_in_the_thread_pings_only_its_reader(
    platform: DiscordPlatform, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    fake.fail_next("POST", "/users/@me/channels", status=403)  # DMs closed: the notice goes into the thread
    thread = ThreadRef("discord", str(fake.general), "")
    actor = Actor("discord", str(fake.alice.id), name="alice")
    await platform.notify_private(thread, actor, f"Only experts decide. <@&{ROLE}> @everyone <@{fake.eve.id}>")
    [message] = fake.bot_messages(fake.general)
    assert message["content"].startswith(f"<@{fake.alice.id}>")
    assert message["allowed_mentions"]["parse"] == [] and ids(message["allowed_mentions"], "users") == [fake.alice.id]
    assert "roles" not in message["allowed_mentions"]


def test_a_disguised_link_shows_its_real_target() -> None:
    assert undisguise("[https://discord.com](https://evil.example)") == "https://discord.com (<https://evil.example>)"
    assert undisguise("[the guide](https://discord.com/x)") == "[the guide](https://discord.com/x)"
    assert undisguise("`[discord.com](https://evil.example)`") == "`[discord.com](https://evil.example)`"


@sqlite_only()
async def test_a_model_draft_pings_nobody_but_the_experts(harness_factory: Any) -> None:
    said = {"text": ""}
    async with FakeLLMServer(reply=lambda model, prompt: said["text"]) as llm:
        dc: DiscordHarness = await harness_factory(_with_model(llm), draftloop_agent="model")
        fake = dc.fake
        said["text"] = f"@everyone @here <@&{fake.role_ids['Analysts']}> <@{fake.eve.id}> read this"
        edits = Edits(fake)
        request = await fake.message(fake.general, fake.alice, "[writing] @everyone urgent: <@&1> read", mention=True)
        thread = await dc.thread_of(request)
        draft = await dc.draft(thread, 1)
        await dc.idle()
        status = await fake.slash(fake.alice, thread, "draftloop", sub="status")  # answered as a follow-up
        await fake.wait_for(lambda: status.responses, what="the status command's defer")
        await dc.idle()
    assert any("@everyone urgent: <@&1>" in text_of(m) for m in fake.bot_messages()), "the status follow-up"
    writers = fake.role_ids["Writers"]
    assert "@everyone" in text_of(draft) and f"<@&{writers}>" in text_of(draft)
    for message in fake.bot_messages():
        if text_of(message):  # not the empty "thinking…" of a deferred command, which the fake made up
            assert_limited(message["allowed_mentions"], roles={writers})
    for body in edits.bodies:
        assert_limited(body.get("allowed_mentions"), roles={writers})
    live = [m["allowed_mentions"] or {} for m in fake.bot_messages()] + [b["allowed_mentions"] for b in edits.bodies]
    assert any(ids(a, "roles") == [writers] for a in live)  # the experts are pinged


def _with_model(llm: FakeLLMServer) -> str:
    return f"""
default_agent = "model"

[agents.model]
provider = "openai-compatible"
model = "fake"
base_url = "{llm.openai_base_url}"
{CONFIG}"""
