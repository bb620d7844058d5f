"""The fake Discord refuses what Discord refuses: Components V2 messages, forum tags and modals.

Raw REST calls (no discord.py in between), so each check meets the fake exactly as a client's payload
would meet Discord: the same status and JSON error code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.discord_api import (
    IS_COMPONENTS_V2,
    MANAGE_CHANNELS,
    MANAGE_THREADS,
    FakeDiscord,
    buttons,
    text_of,
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def call(fake: FakeDiscord, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, fake.api_base + path, json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json() if resp.status != 204 else {}


def text(content: str) -> dict[str, Any]:
    return {"type": 10, "content": content}


def row(*custom_ids: str) -> dict[str, Any]:
    return {"type": 1, "components": [{"type": 2, "style": 1, "label": c, "custom_id": c} for c in custom_ids]}


def layout(*children: dict[str, Any]) -> dict[str, Any]:
    return {"flags": IS_COMPONENTS_V2, "components": [{"type": 17, "components": list(children)}]}


async def test_a_layout_message_is_taken_and_read_back(fake: FakeDiscord) -> None:
    status, msg = await call(fake, "POST", f"/channels/{fake.general}/messages", layout(text("**#1 · v1**"), row("a")))
    assert status == 200 and msg["content"] == "" and msg["flags"] & IS_COMPONENTS_V2
    assert text_of(msg) == "**#1 · v1**" and [b["custom_id"] for b in buttons(msg)] == ["a"]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({**layout(text("x")), "content": "hello"}, "content cannot be used"),
        ({**layout(text("x")), "embeds": [{"title": "t"}]}, "embeds cannot be used"),
        (layout(text("x" * 2500), text("y" * 1501)), "at most 4000"),
        (layout(*[text("x") for _ in range(40)]), "at most 40"),  # 40 texts + the container
        (layout(text("")), "content: Must be 1 or more"),
        (layout(row("a", "b", "c", "d", "e", "f")), "5 or fewer"),
        (layout(row("a"), row("a")), "cannot be duplicated"),
        (layout({"type": 13, "file": {"url": "attachment://missing.md"}}), "No attachment named"),
        ({"flags": IS_COMPONENTS_V2, "components": [{"type": 2, "style": 1, "custom_id": "a"}]}, "top-level"),
        ({"components": [{"type": 17, "components": [text("x")]}]}, "requires the IS_COMPONENTS_V2 flag"),
        ({"content": "x" * 2001}, "2000 or fewer"),
        ({"content": ""}, "empty message"),
    ],
)
async def test_malformed_messages_are_refused_as_discord_does(fake: FakeDiscord, body: Any, why: str) -> None:
    status, error = await call(fake, "POST", f"/channels/{fake.general}/messages", body)
    assert status == 400 and error["code"] in (50035, 50006) and why in error["message"], error
    assert fake.messages == {}


async def test_the_v2_flag_cannot_be_removed_and_is_opted_into_only_with_content_cleared(fake: FakeDiscord) -> None:
    _, v2 = await call(fake, "POST", f"/channels/{fake.general}/messages", layout(text("v2")))
    path = f"/channels/{fake.general}/messages/{v2['id']}"
    status, error = await call(fake, "PATCH", path, {"flags": 0, "content": "plain again"})
    assert status == 400 and "cannot be removed" in error["message"]
    status, error = await call(fake, "PATCH", path, {"content": "text on a layout message"})
    assert status == 400 and "content cannot be used" in error["message"]
    status, edited = await call(fake, "PATCH", path, {"components": layout(text("still v2"))["components"]})
    assert status == 200 and text_of(edited) == "still v2" and edited["flags"] & IS_COMPONENTS_V2

    _, plain = await call(fake, "POST", f"/channels/{fake.general}/messages", {"content": "plain"})
    path = f"/channels/{fake.general}/messages/{plain['id']}"
    status, error = await call(fake, "PATCH", path, layout(text("opt in, content kept")))
    assert status == 400 and "Clear content" in error["message"]
    status, opted = await call(fake, "PATCH", path, {**layout(text("opted in")), "content": None})
    assert status == 200 and opted["content"] == "" and text_of(opted) == "opted in"


async def test_forum_tags_need_manage_channels_and_applied_tags_manage_threads(fake: FakeDiscord) -> None:
    tags = {"available_tags": [{"name": "in review", "moderated": True}]}
    status, error = await call(fake, "PATCH", f"/channels/{fake.forum}", tags)
    assert (status, error["code"]) == (403, 50013)  # the invite's permissions do not include Manage Channels
    fake.grant(MANAGE_CHANNELS)
    status, _ = await call(fake, "PATCH", f"/channels/{fake.general}", tags)
    assert status == 400  # a text channel has no tags
    status, error = await call(fake, "PATCH", f"/channels/{fake.forum}", {"available_tags": [{"name": "x" * 21}]})
    assert status == 400 and "between 1 and 20" in error["message"]
    many = {"available_tags": [{"name": f"t{i}"} for i in range(21)]}
    assert (await call(fake, "PATCH", f"/channels/{fake.forum}", many))[0] == 400
    status, forum = await call(fake, "PATCH", f"/channels/{fake.forum}", tags)
    assert status == 200 and [t["name"] for t in forum["available_tags"]] == ["in review"]

    post, _ = await fake.forum_post(fake.alice, "A post", "a request")
    tag = fake.forum_tags()["in review"]
    status, error = await call(fake, "PATCH", f"/channels/{post['id']}", {"applied_tags": [str(tag)]})
    assert (status, error["code"]) == (403, 50013)  # a member's post, a moderated tag: Manage Threads
    fake.grant(MANAGE_THREADS)
    status, error = await call(fake, "PATCH", f"/channels/{post['id']}", {"applied_tags": ["12345"]})
    assert status == 400 and "Unknown tag" in error["message"]
    fake.archive(int(post["id"]), locked=False)
    status, error = await call(fake, "PATCH", f"/channels/{post['id']}", {"applied_tags": [str(tag)]})
    assert (status, error["code"]) == (400, 50083)  # archived: unarchive in the same call
    status, thread = await call(
        fake, "PATCH", f"/channels/{post['id']}", {"applied_tags": [str(tag)], "archived": False}
    )
    assert status == 200 and fake.applied(int(post["id"])) == ["in review"]


async def test_modals_are_checked_and_submitted_in_their_own_shape(fake: FakeDiscord) -> None:
    record = await fake.click(fake.alice, {"id": "1", "channel_id": str(fake.general)}, "x")
    radio = {
        "type": 21,
        "custom_id": "reason",
        "options": [{"label": "Tone", "value": "tone"}, {"label": "Other", "value": "other"}],
    }
    comment = {"type": 4, "custom_id": "comment", "style": 2, "required": False, "max_length": 1000}
    modal = {
        "title": "Reject #1",
        "custom_id": "draftloop:reject-form:1",
        "components": [
            {"type": 18, "label": "Why?", "component": radio},
            {"type": 18, "label": "Anything to add?", "component": comment},
        ],
    }
    path = f"/interactions/{record.id}/{record.token}/callback"
    bad = [
        {**modal, "title": "x" * 46},
        {**modal, "components": []},
        {**modal, "components": [{"type": 1, "components": [radio]}]},  # a radio group outside a label
        {
            **modal,
            "components": [{"type": 18, "label": "Why?", "component": {**radio, "options": radio["options"][:1]}}],
        },
    ]
    for data in bad:
        status, _ = await call(fake, "POST", path, {"type": 9, "data": data})
        assert status == 400
    assert record.responses == []  # a refused answer leaves the interaction unanswered
    status, _ = await call(fake, "POST", path, {"type": 9, "data": modal})
    assert status == 200 and record.response_type == 9

    with pytest.raises(AssertionError, match="not an option"):
        await fake.submit_modal(fake.alice, fake.general, modal["custom_id"], {"reason": "rude"}, opened_by=record)
    with pytest.raises(AssertionError, match="required"):
        await fake.submit_modal(fake.alice, fake.general, modal["custom_id"], {"comment": "hm"}, opened_by=record)
    sent = await fake.submit_modal(fake.alice, fake.general, modal["custom_id"], {"reason": "tone"}, opened_by=record)
    assert sent.kind == 5
