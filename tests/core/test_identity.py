"""Identity is an id on Slack and Discord; names match only on the console. Also: config warnings."""

from __future__ import annotations

import io
import logging
from typing import Any

from hypothesis import given, settings, strategies as st

from adapters.chat.console.service import ConsoleService
from bot.events import Actor
from bot.identity import config_warnings, entry_id, names, warn_config
from bot.permissions import is_admin, is_expert, may_decide, may_give_feedback

NAMED = """
admins = ["boss", "UADMIN1", "123456789012345678"]
[categories.writing]
experts = ["wendy", "<@UEXPERT1>", "S0WRITERS"]
expert_roles = ["Writers"]
[slack]
admins = ["slackboss", "S0ADMINS"]
[discord]
admins = ["discordboss", "223456789012345678"]
admin_roles = ["Moderators"]
"""


def test_a_display_name_grants_nothing_on_slack_or_discord(settings_factory: Any) -> None:
    s = settings_factory(toml=NAMED)
    for platform in ("slack", "discord"):
        for name in ("wendy", "boss", "slackboss", "discordboss", "Writers", "UEXPERT1"):
            impostor = Actor(platform, "U0MALLORY" if platform == "slack" else "987654321987654321", name)
            assert not is_expert(impostor, "writing", s), (platform, name)
            assert not is_admin(impostor, s), (platform, name)
            assert not may_decide(impostor, requester_id="UREQ", category="writing", settings=s)
            assert not may_give_feedback(impostor, requester_id="UREQ", category="writing", settings=s)


def test_ids_groups_and_roles_do_grant(settings_factory: Any) -> None:
    s = settings_factory(toml=NAMED)
    assert is_expert(Actor("slack", "UEXPERT1"), "writing", s)  # written as a mention token
    assert is_expert(Actor("slack", "U0SOMEONE", roles=frozenset({"S0WRITERS"})), "writing", s)  # user group
    assert is_admin(Actor("slack", "UADMIN1"), s)
    assert is_admin(Actor("slack", "U0SOMEONE", roles=frozenset({"S0ADMINS"})), s)
    assert is_admin(Actor("discord", "123456789012345678"), s)  # a shared admin id
    assert is_admin(Actor("discord", "223456789012345678"), s)
    assert is_admin(Actor("discord", "1", roles=frozenset({"223456789012345678"})), s)  # an admin role id
    assert is_admin(Actor("discord", "1", roles=frozenset({"moderators", "31"})), s)  # admin_roles by name
    assert is_expert(Actor("discord", "1", roles=frozenset({"Writers", "32"})), "writing", s)
    # Slack has no admin_roles; a Discord role name held on Slack is nothing.
    assert not is_admin(Actor("slack", "U0SOMEONE", roles=frozenset({"Moderators"})), s)
    # [slack].admins are Slack's, [discord].admins Discord's.
    assert not is_admin(Actor("discord", "1", roles=frozenset({"S0ADMINS"})), s)
    assert not is_admin(Actor("slack", "223456789012345678"), s)


def test_a_role_name_in_experts_is_not_a_role_grant_on_discord(settings_factory: Any) -> None:
    """Role names count in `expert_roles` only; in `experts` an entry is a person."""
    s = settings_factory(toml='[categories.writing]\nexperts = ["Writers"]\n')
    assert not is_expert(Actor("discord", "1", "x", roles=frozenset({"Writers", "77"})), "writing", s)


def test_the_console_still_matches_names(settings_factory: Any) -> None:
    s = settings_factory(toml=NAMED)
    assert is_expert(Actor("console", "wendy", "wendy"), "writing", s)
    assert is_expert(Actor("console", "WENDY", "WENDY"), "writing", s)
    assert is_admin(Actor("console", "boss", "boss"), s)
    assert not is_admin(Actor("console", "mallory", "mallory"), s)


async def test_console_transcript_decides_by_name(make_runtime: Any, settings_factory: Any) -> None:
    script = "[writing] a post\n/as mallory\n#1 accept\n/as wendy\n#1 accept\n"
    rt = make_runtime(settings_factory(toml='[categories.writing]\nexperts = ["wendy"]\n'))
    out = io.StringIO()
    console = ConsoleService(rt, stdin=io.StringIO(script), out=out)
    console.speaker = "alice"
    await console.run()
    text = out.getvalue()
    assert "→ mallory only: Not allowed" in text
    assert "✅ #1 accepted at v1 by wendy." in text


_names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@settings(max_examples=60, deadline=None)
@given(name=_names, platform=st.sampled_from(["slack", "discord"]))
def test_no_display_name_makes_a_stranger_match_a_list_of_people(name: str, platform: str) -> None:
    """Whatever a member calls themselves, and whatever names the config holds, only an id matches."""
    entries = [name, name.lower(), name.upper(), f"@{name}", f" {name} "]
    stranger = Actor(platform, "U0STRANGER" if platform == "slack" else "999999999999999999", name)
    assert not names(stranger, entries)


def test_entry_ids() -> None:
    assert entry_id(" <@U123ABC> ") == "U123ABC"
    assert entry_id("<!subteam^S0TEAM|@writers>") == "S0TEAM"
    assert entry_id("<@!123456789012345678>") == "123456789012345678"
    assert entry_id("<@&123456789012345678>") == "123456789012345678"
    assert entry_id("@UABC") == "UABC"
    assert entry_id("wendy") == "wendy"


def test_config_warnings_name_every_entry_that_is_not_an_id(settings_factory: Any) -> None:
    cfg = settings_factory(toml=NAMED).file
    slack = config_warnings(cfg, "slack")
    assert slack == [
        "config: admins entry 'boss' is not a Discord or Slack id; it only matches on the console",
        "config: experts of 'writing' entry 'wendy' is not a Discord or Slack id; it only matches on the console",
        "config: [slack].admins entry 'slackboss' is not a Slack user or user-group id; it matches nobody",
    ]
    discord = config_warnings(cfg, "discord")
    assert discord[:2] == slack[:2]
    assert discord[2:] == [
        "config: [discord].admins entry 'discordboss' is not a Discord user or role id; it matches nobody"
    ]
    ids_only = settings_factory(toml='admins = ["U0A1"]\n[categories.design]\nexperts = ["123456789012345678"]\n')
    assert config_warnings(ids_only.file, "slack") == [] and config_warnings(ids_only.file, "discord") == []


def test_warnings_are_logged_once_per_process(settings_factory: Any, caplog: Any) -> None:
    cfg = settings_factory(toml='[categories.other]\nexperts = ["only-once-name"]\n').file
    with caplog.at_level(logging.WARNING, logger="bot.identity"):
        warn_config(cfg, "slack")
        warn_config(cfg, "discord")
    lines = [r.getMessage() for r in caplog.records if "only-once-name" in r.getMessage()]
    assert lines == [
        "config: experts of 'other' entry 'only-once-name' is not a Discord or Slack id; it only matches on the console"
    ]
