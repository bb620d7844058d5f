"""The whole loop in Discord: the real discord.py client against the fake gateway and REST API."""

from __future__ import annotations

import pytest

from tests.discord.conftest import DiscordHarness, sqlite_only
from tests.fakes.discord_api import buttons, text_of

THREAD_ROUTE = ("POST", "/channels/{channel_id}/messages/{message_id}/threads")
SEND_ROUTE = ("POST", "/channels/{channel_id}/messages")
CALLBACK_ROUTE = ("POST", "/interactions/{interaction_id}/{token}/callback")


def custom_ids(message: dict[str, object]) -> list[str]:
    return [str(b["custom_id"]) for b in buttons(dict(message))]


async def test_full_loop_by_mention_two_feedback_rounds_accept_by_button(dc: DiscordHarness) -> None:
    fake = dc.fake
    start = len(fake.calls)
    request = await fake.message(
        fake.general, fake.alice, "[writing] a 300-word post on remote onboarding", mention=True
    )
    thread = await dc.thread_of(request)
    assert fake.channels[thread]["name"] == "#1 a 300-word post on remote onboarding"
    ack = await dc.said(thread, "Project #1")
    assert f"<@&{fake.role_ids['Writers']}>" in ack["content"]  # the category's experts, as a role mention
    v1 = await dc.draft(thread, 1)
    assert custom_ids(v1) == ["draftloop:accept:1", "draftloop:changes:1", "draftloop:reject:1"]

    # Round 1: an expert replies in the thread while the gateway connection is down; the client
    # RESUMEs and the missed MESSAGE_CREATE is replayed, so the reply is not lost.
    await dc.idle()
    await fake.drop()
    await fake.message(thread, fake.wendy, "Shorter intro, and name the buddy system. 20m")
    v2 = await dc.draft(thread, 2)
    assert "buddy system" in text_of(v2)
    assert fake.resumes >= 1 and fake.identifies == 1

    # Round 2: the requester uses "Request changes": a form (modal), then its submission.
    await dc.idle()
    click = await fake.click(fake.alice, v2, "draftloop:changes:1")
    await fake.wait_for(lambda: click.responses, what="the modal")
    assert click.response_type == 9 and click.responses[0]["data"]["custom_id"] == "draftloop:changes-form:1"
    form = await fake.submit_modal(
        fake.alice, thread, "draftloop:changes-form:1", {"feedback": "Add a checklist at the end", "minutes": "15"}, v2
    )
    await fake.wait_for(lambda: form.responses, what="the form's answer")
    assert form.response_type == 4  # the feedback, shown in the thread
    v3 = await dc.draft(thread, 3)
    assert "checklist" in text_of(v3)

    # Accept by button, by the expert.
    await dc.idle()
    accept = await fake.click(fake.wendy, v3, "draftloop:accept:1")
    await dc.said(thread, "#1 accepted at v3 by wendy")
    assert accept.response_type == 6  # deferred within Discord's 3 seconds, nothing ephemeral needed
    await dc.idle()

    project = await dc.project(1)
    assert (project.state, project.current_version, project.accepted_version) == ("accepted", 3, 3)
    assert project.feedback_count == 2
    calls = fake.calls_since(start)
    assert calls[THREAD_ROUTE] == 1 and len(fake.threads()) == 1  # no duplicate thread
    assert all(c.status < 400 for c in fake.calls[start:])
    print("\nREST calls of one full loop (mention, 2 feedback rounds, accept by button):")
    for (method, route), count in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:3d}  {method} {route}")


@sqlite_only()
async def test_slash_command_with_category(dc: DiscordHarness) -> None:
    fake = dc.fake
    assert {c["name"] for c in fake.commands} == {"draft", "draftloop"}
    ix = await fake.slash(
        fake.alice, fake.general, "draft", {"brief": "clean this survey CSV", "category": "data-science"}
    )
    await fake.wait_for(lambda: ix.responses, what="the /draft answer")
    assert ix.response_type == 4  # answered at once with the request message; the thread opens on it
    origin = fake.messages[ix.original_id or 0]
    assert "clean this survey CSV" in origin["content"]
    thread = await dc.thread_of(origin)
    ack = await dc.said(thread, "Project #1 · data-science")
    assert f"<@&{fake.role_ids['Analysts']}>" in ack["content"]
    await dc.draft(thread, 1)
    project = await dc.project(1)
    assert (project.category, project.requester_id) == ("data-science", str(fake.alice.id))


@sqlite_only()
async def test_persistent_button_after_restart(dc: DiscordHarness) -> None:
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a product update email", mention=True)
    thread = await dc.thread_of(request)
    v1 = await dc.draft(thread, 1)
    await dc.idle()
    await dc.restart()  # a new process: new client, new runtime, same database
    assert fake.identifies == 2
    click = await fake.click(fake.alice, v1, "draftloop:accept:1")
    await dc.said(thread, "#1 accepted at v1 by alice")
    assert click.response_type == 6
    await dc.idle()
    assert (await dc.project(1)).state == "accepted"


@sqlite_only()
async def test_accept_by_reaction(dc: DiscordHarness) -> None:
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a tagline for a bakery", mention=True)
    thread = await dc.thread_of(request)
    v1 = await dc.draft(thread, 1)
    await dc.idle()
    await fake.react(thread, int(v1["id"]), fake.wendy, "✅")
    await dc.said(thread, "#1 accepted at v1 by wendy")
    await dc.idle()
    project = await dc.project(1)
    assert project.state == "accepted"


@sqlite_only()
async def test_decision_by_member_without_the_role(dc: DiscordHarness) -> None:
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a blog intro on tea", mention=True)
    thread = await dc.thread_of(request)
    v1 = await dc.draft(thread, 1)
    await dc.idle()
    before = len(fake.bot_messages(thread))
    click = await fake.click(fake.eve, v1, "draftloop:accept:1")

    def ephemeral() -> list[dict[str, object]]:
        return [m for m in fake.bot_messages(thread) if int(m["flags"]) & 64 and "Not allowed" in str(m["content"])]

    notice = await fake.wait_for(ephemeral, what="an ephemeral 'not allowed'")
    assert click.response_type == 6 and len(notice) == 1
    await dc.idle()
    public = [m for m in fake.bot_messages(thread) if not int(m["flags"]) & 64]
    assert len(public) == before  # nothing said in the thread
    assert (await dc.project(1)).state == "in_review"  # state unchanged


@sqlite_only()
async def test_empty_mention_gets_help(dc: DiscordHarness) -> None:
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, "", mention=True)
    reply = await dc.said(fake.general, "draftloop")
    assert reply["message_reference"]["message_id"] == request["id"]  # a reply in the channel
    assert "/draft" in reply["content"]
    await dc.idle()
    assert fake.threads() == []


@sqlite_only()
async def test_bot_message_and_edit_in_thread_are_ignored(dc: DiscordHarness) -> None:
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a newsletter opener", mention=True)
    thread = await dc.thread_of(request)
    await dc.draft(thread, 1)
    await dc.idle()
    first = await fake.message(thread, fake.wendy, "// just thinking aloud")  # an aside: kept, no revision
    await fake.message(thread, fake.other_bot, "Make it about cats instead")  # another bot
    await fake.edit_by_user(first, "Make it about dogs instead")  # an edit
    await fake.message(thread, fake.wendy, "Mention the spring launch")  # real feedback
    v2 = await dc.draft(thread, 2)
    await dc.idle()
    shown = text_of(v2)
    assert "spring launch" in shown and "cats" not in shown and "dogs" not in shown
    project = await dc.project(1)
    assert project.feedback_count == 1 and project.current_version == 2


@sqlite_only()
async def test_429_on_message_send_then_success(dc: DiscordHarness) -> None:
    fake = dc.fake
    fake.fail_next(*SEND_ROUTE, status=429, retry_after=0.05)
    request = await fake.message(fake.general, fake.alice, "[writing] a haiku about deadlines", mention=True)
    thread = await dc.thread_of(request)
    await dc.said(thread, "Project #1")
    await dc.draft(thread, 1)
    sends = [c.status for c in fake.calls if (c.method, c.route) == SEND_ROUTE]
    assert sends[0] == 429 and sends[1] == 200  # discord.py waited retry_after and sent again
    assert len([m for m in fake.bot_messages(thread) if m["content"].startswith("Project #1")]) == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_forum_post_is_a_request_in_its_own_thread(dc: DiscordHarness) -> None:
    fake = dc.fake
    thread, _starter = await fake.forum_post(
        fake.alice, "Landing page copy", "[web-dev] hero section for a yoga studio"
    )
    tid = int(thread["id"])
    await dc.said(tid, "Project #1 · web-dev")
    await dc.draft(tid, 1)
    await fake.message(tid, fake.alice, "Add pricing")
    await dc.draft(tid, 2)
    await dc.idle()
    assert fake.calls_since(0)[THREAD_ROUTE] == 0  # the forum post is the thread
    assert (await dc.project(1)).thread_id == str(tid)
