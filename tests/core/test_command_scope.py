"""Commands that name a project answer where it lives, or privately to its insiders; nowhere else.

The real workflow and store, with a recording platform that stands in for a chat platform with
channels (named "slack" here: the core treats every platform but the console the same way).
"""

from __future__ import annotations

from typing import Any

from bot.events import Actor, CommandInvoked, Locator, ThreadRef
from bot.replies import ReplyKind
from tests.conftest import request_event
from tests.fakes.recording_chat import RecordingChat

HOME, ELSEWHERE = "C1", "C2"
TOML = """
admins = ["UADMIN"]
[categories.writing]
experts = ["UEXP"]
"""


async def _runtime(make_runtime: Any, settings_factory: Any) -> Any:
    rt = make_runtime(settings_factory(toml=TOML), chat=RecordingChat(name="slack"))
    await rt.workflow.handle(request_event("[writing] the merger memo", who="UREQ", platform="slack"))
    return rt


def _cmd(name: str, who: str, channel: str, *args: str, locator: Locator | None = None) -> CommandInvoked:
    return CommandInvoked(name, Actor("slack", who), ThreadRef("slack", channel, ""), args=args, locator=locator)


async def _state(rt: Any) -> str:
    project = await rt.workflow.find(Locator(number=1))
    assert project is not None
    return str(project.state)


async def test_status_by_number_elsewhere_is_the_same_as_no_such_project(make_runtime, settings_factory) -> None:
    rt = await _runtime(make_runtime, settings_factory)
    before = len(rt.chat.sent)
    await rt.workflow.handle(_cmd("status", "UOUT", ELSEWHERE, locator=Locator(number=1)))
    await rt.workflow.handle(_cmd("status", "UOUT", ELSEWHERE, locator=Locator(number=999)))
    hidden, missing = rt.chat.sent[before:]
    assert hidden.reply.text == "No project #1 here." and missing.reply.text == "No project #999 here."
    assert (hidden.op, hidden.reply.kind, hidden.thread) == (missing.op, missing.reply.kind, missing.thread)
    assert all("merger" not in s.reply.text for s in rt.chat.sent[before:])


async def test_insiders_get_it_privately_elsewhere_and_anyone_in_the_channel(make_runtime, settings_factory) -> None:
    rt = await _runtime(make_runtime, settings_factory)
    for who in ("UREQ", "UEXP", "UADMIN"):
        before = len(rt.chat.sent)
        await rt.workflow.handle(_cmd("status", who, ELSEWHERE, "#1"))
        (answer,) = rt.chat.sent[before:]
        assert answer.op == "private" and answer.actor is not None and answer.actor.user_id == who
        assert "merger" in answer.reply.text and answer.thread.channel == ELSEWHERE
    before = len(rt.chat.sent)
    await rt.workflow.handle(_cmd("status", "UOUT", HOME, "1"))  # in the project's channel: in the open
    (answer,) = rt.chat.sent[before:]
    assert answer.op == "post" and answer.reply.kind == ReplyKind.STATUS and "merger" in answer.reply.text


async def test_the_list_holds_only_the_channels_own_projects(make_runtime, settings_factory) -> None:
    rt = await _runtime(make_runtime, settings_factory)
    await rt.workflow.handle(_cmd("status", "UREQ", ELSEWHERE))
    assert rt.chat.sent[-1].reply.text == "No open projects."
    await rt.workflow.handle(_cmd("status", "UOUT", HOME))
    assert rt.chat.sent[-1].reply.text.startswith("#1 · in review") and "merger" in rt.chat.sent[-1].reply.text


async def test_a_thread_of_no_project_lists_its_channel(make_runtime, settings_factory) -> None:
    rt = await _runtime(make_runtime, settings_factory)
    elsewhere = Locator(thread=ThreadRef("slack", ELSEWHERE, "123.456"))
    await rt.workflow.handle(_cmd("status", "UOUT", ELSEWHERE, locator=elsewhere))
    assert rt.chat.sent[-1].reply.text == "No open projects."


async def test_cancel_and_retry_elsewhere(make_runtime, settings_factory) -> None:
    rt = await _runtime(make_runtime, settings_factory)
    # An outsider, and an expert (who may see it but not cancel it), from another channel.
    await rt.workflow.handle(_cmd("cancel", "UOUT", ELSEWHERE, "1"))
    assert rt.chat.sent[-1].reply.text == "No project #1 here."
    await rt.workflow.handle(_cmd("retry", "UOUT", ELSEWHERE, "#1"))
    assert rt.chat.sent[-1].reply.text == "No project #1 here."
    await rt.workflow.handle(_cmd("cancel", "UEXP", ELSEWHERE, "1"))
    assert rt.chat.sent[-1].op == "private" and rt.chat.sent[-1].reply.text.startswith("Only the requester")
    assert await _state(rt) == "in_review"
    # The requester may, from anywhere; the answer elsewhere is theirs alone.
    await rt.workflow.handle(_cmd("cancel", "UREQ", ELSEWHERE, "1"))
    last = rt.chat.sent[-1]
    assert (last.op, last.reply.text, last.thread.channel) == ("private", "#1 cancelled.", ELSEWHERE)
    assert await _state(rt) == "cancelled"


async def test_the_console_is_one_room(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("the merger memo", who="alice"))  # console, channel C1
    here = ThreadRef("console", "console", "draftloop")
    await rt.workflow.handle(CommandInvoked("status", Actor("console", "bob", "bob"), here, args=("1",)))
    assert rt.chat.sent[-1].op == "post" and "merger" in rt.chat.sent[-1].reply.text
    await rt.workflow.handle(CommandInvoked("status", Actor("console", "bob", "bob"), here))
    assert "merger" in rt.chat.sent[-1].reply.text
