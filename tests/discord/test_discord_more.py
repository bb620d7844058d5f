"""Long drafts, forms, commands, attachments, Discord's refusals, and the service entry point."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from adapters.chat.discord import service as discord_service
from bot.app.runtime import Runtime
from bot.settings import Settings
from storage.engine import Database
from tests.discord.conftest import CONFIG, DiscordHarness, sqlite_only
from tests.fakes.discord_api import IS_COMPONENTS_V2, buttons, text_of
from tests.fakes.discord_components import walk
from tests.fakes.llm_server import FakeLLMServer

pytestmark = sqlite_only()


def long_reply(model: str, prompt: str) -> str:
    size = 7000 if "very long" in prompt else 3500
    paragraphs: list[str] = []
    i = 0
    while sum(len(p) + 2 for p in paragraphs) < size:
        i += 1
        paragraphs.append(f"Paragraph {i}. " + "The quick brown fox jumps over the lazy dog. " * 8)
    return "\n\n".join(paragraphs)[:size]


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer(reply=long_reply, chunk_words=40) as server:
        yield server


@pytest.fixture
async def long_dc(harness_factory: Callable[..., Any], llm: FakeLLMServer) -> DiscordHarness:
    toml = f"""
default_agent = "long"

[agents.long]
provider = "openai-compatible"
model = "fake-long"
base_url = "{llm.openai_base_url}"
{CONFIG}"""
    harness: DiscordHarness = await harness_factory(toml, draftloop_agent="long")
    return harness


async def test_3500_character_draft_is_one_layout_message(long_dc: DiscordHarness) -> None:
    fake = long_dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a long guide", mention=True)
    thread = await long_dc.thread_of(request)
    draft = await long_dc.draft(thread, 1, timeout=20)
    await long_dc.idle()
    [message] = [m for m in fake.bot_messages(thread) if "Paragraph" in text_of(m)]  # one message, not two
    assert message is draft and message["content"] == "" and message["flags"] & IS_COMPONENTS_V2
    [container] = message["components"]
    assert container["type"] == 17  # header, text, state line, mentions and buttons in one container
    shown = text_of(message)
    assert shown.startswith("**#1 · v1") and long_reply("", "") in shown
    assert f"<@&{fake.role_ids['Writers']}>" in shown and len(buttons(message)) == 3
    assert not any(c.status >= 400 for c in fake.calls) and fake.refusals == []


async def test_draft_past_the_inline_limit_is_attached_as_markdown(long_dc: DiscordHarness) -> None:
    fake = long_dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a very long report", mention=True)
    thread = await long_dc.thread_of(request)

    def with_file() -> dict[str, Any] | None:
        return next((m for m in fake.bot_messages(thread) if m["attachments"]), None)

    message = await fake.wait_for(with_file, timeout=20, what="the draft as a file")
    attachment = message["attachments"][0]
    assert attachment["filename"] == "draftloop-1-v1.md"
    body = fake.files[(int(message["id"]), "draftloop-1-v1.md")].decode()
    assert len(body) == 7000 and body.startswith("Paragraph 1.")
    assert "attached as a Markdown file" in text_of(message) and buttons(message)
    # A layout message shows an attachment only through a file component that names it.
    files = [c for c in walk(message["components"]) if c["type"] == 13]
    assert [f["file"]["url"] for f in files] == ["attachment://draftloop-1-v1.md"]
    await long_dc.idle()
    assert fake.refusals == []


async def test_draft_without_brief_opens_a_form(dc: DiscordHarness) -> None:
    fake = dc.fake
    ix = await fake.slash(fake.alice, fake.general, "draft", {"category": "writing"})
    await fake.wait_for(lambda: ix.responses, what="the form")
    assert ix.response_type == 9 and ix.responses[0]["data"]["custom_id"] == "draftloop:brief-form"
    form = await fake.submit_modal(
        fake.alice, fake.general, "draftloop:brief-form", {"brief": "a welcome message", "category": "writing"}
    )
    await fake.wait_for(lambda: form.responses, what="the form's answer")
    thread = await dc.thread_of(fake.messages[form.original_id or 0])
    await dc.said(thread, "Project #1 · writing")
    await dc.draft(thread, 1)
    await dc.idle()


async def test_draftloop_help_status_and_digest(dc: DiscordHarness) -> None:
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] an about page", mention=True)
    thread = await dc.thread_of(request)
    v1 = await dc.draft(thread, 1)
    await dc.idle()
    await fake.click(fake.alice, v1, "draftloop:accept:1")
    await dc.said(thread, "accepted")
    await dc.idle()

    help_ = await fake.slash(fake.alice, fake.general, "draftloop", sub="help")
    status = await fake.slash(fake.alice, thread, "draftloop", sub="status")
    digest = await fake.slash(fake.mod, fake.general, "draftloop", sub="digest")
    await fake.wait_for(lambda: help_.responses and status.responses and digest.responses, what="three defers")
    assert [r.response_type for r in (help_, status, digest)] == [5, 5, 5]  # "thinking…" within 3 s
    await dc.idle()
    said = {text_of(m): m for m in fake.bot_messages() if m.get("interaction_metadata") is None}
    assert any("/draft" in c and "Accept" in c for c in said)  # help, as the follow-up
    assert any(c.startswith("#1") and "accepted" in c for c in said)  # this thread's status
    embeds = [m["embeds"][0] for m in fake.bot_messages(fake.general) if m["embeds"]]
    assert len(embeds) == 1 and embeds[0]["title"] and embeds[0]["description"]
    webhook_posts = fake.counts()[("POST", "/webhooks/{application_id}/{token}")]
    assert webhook_posts == 3  # every answer went back through its interaction


async def test_text_attachment_is_read_into_the_brief(dc: DiscordHarness) -> None:
    fake = dc.fake
    notes = b"Audience: new hires in the Berlin office.\nTone: warm."
    request = await fake.message(
        fake.general, fake.alice, "[writing] a welcome email", mention=True, attachments=[("notes.md", notes)]
    )
    await dc.thread_of(request)
    await dc.idle()
    project = await dc.project(1)
    assert "Berlin office" in project.brief and "notes.md" in project.brief


async def test_archived_thread_and_missing_permission_are_clear_not_fatal(
    dc: DiscordHarness, caplog: pytest.LogCaptureFixture
) -> None:
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a press note", mention=True)
    thread = await dc.thread_of(request)
    await dc.draft(thread, 1)
    await dc.idle()

    fake.archive(thread, locked=True)  # archived and locked: the bot unarchives, then posts
    await fake.message(thread, fake.alice, "Make it formal")
    await dc.draft(thread, 2)
    await dc.idle()
    assert fake.channels[thread]["thread_metadata"]["archived"] is False

    fake.deny(fake.second)  # the bot may not write in #requests
    caplog.set_level(logging.WARNING)
    await fake.message(fake.second, fake.alice, "[writing] a slogan", mention=True)
    await fake.wait_for(lambda: "missing a permission" in caplog.text, what="a clear log line")
    await dc.idle()
    # Still alive: a new request elsewhere runs.
    other = await fake.message(fake.general, fake.alice, "[writing] a motto", mention=True)
    await dc.draft(await dc.thread_of(other), 1)
    await dc.idle()


async def test_service_entry_point_roles(
    discord_settings: Callable[..., Settings], settings_factory: Callable[..., Settings], db: Database
) -> None:
    runtime = Runtime(discord_settings(), db=db)
    assert discord_service.create(runtime, "web") is None
    assert discord_service.create(runtime, "chat") is None
    service = discord_service.create(runtime, "worker")
    assert service is not None and "discord" in runtime.workflow.platforms
    no_token = Runtime(settings_factory(), db=db)
    assert discord_service.create(no_token, "worker") is None


async def test_scheduled_digest_is_an_embed_with_the_chart(dc: DiscordHarness) -> None:
    from datetime import UTC, datetime

    from bot.app.jobs import digest_reply
    from bot.events import ThreadRef
    from bot.report.digest import Period, build_report

    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a launch post", mention=True)
    thread = await dc.thread_of(request)
    v1 = await dc.draft(thread, 1)
    await dc.idle()
    await fake.react(thread, int(v1["id"]), fake.alice, "✅")
    await dc.said(thread, "accepted")
    await dc.idle()
    assert dc.runtime is not None and dc.service is not None
    period = Period.last_days(7, now=datetime.now(UTC), tz=dc.settings.tz)
    reply = digest_reply(await build_report(dc.db, period))
    assert reply.files  # the chart PNG
    await dc.service.platform.post(ThreadRef("discord", str(fake.second), ""), reply)  # as the scheduler does
    [message] = fake.bot_messages(fake.second)
    [embed] = message["embeds"]
    assert embed["image"]["url"] == f"attachment://{reply.files[0][0]}"
    assert message["attachments"][0]["filename"] == reply.files[0][0]
    assert "1" in embed["description"]  # the accepted project counts
