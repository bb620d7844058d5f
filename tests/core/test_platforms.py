"""A chat platform is its own package: the core asks the platform's policy (bot/platforms.py) for its
config table, its admins, how people are named there, its help and whether it is one room. Here a
platform the core has never heard of ("pager") is registered the way a test-only or embedded platform
is, and gets all of that with no line of bot/ naming it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.chat.discord.policy import DISCORD
from adapters.chat.slack.policy import SLACK
from bot import platforms, texts
from bot.errors import ConfigError
from bot.events import Actor
from bot.identity import config_warnings, has_role, names
from bot.permissions import is_admin
from bot.platforms import GENERIC_HELP, PlatformHelp, PlatformPolicy, PlatformTable
from bot.settings import load_file_config


class PagerConfig(PlatformTable):
    admins: tuple[str, ...] = ()
    admin_roles: tuple[str, ...] = ()
    pages: int = 1


def _pager_admins(table: PagerConfig) -> tuple[str, ...]:
    return table.admins


def _pager_roles(table: PagerConfig) -> tuple[str, ...]:
    return table.admin_roles


PAGER: PlatformPolicy[PagerConfig] = PlatformPolicy(
    name="pager",
    title="Pager",
    table=PagerConfig,
    is_id=lambda bare: bare.startswith("p-"),
    id_kind="pager number",
    admins=_pager_admins,
    admin_roles=_pager_roles,
    help=PlatformHelp(start="page draftloop", example="[writing] a memo", decide="page `accept`", commands="`status`"),
)


@pytest.fixture
def pager() -> Iterator[PlatformPolicy[PagerConfig]]:
    platforms.register(PAGER)
    yield PAGER
    platforms.unregister(PAGER.name)


def _config(tmp_path: Path, toml: str) -> Any:
    path = tmp_path / "draftloop.toml"
    path.write_text(toml, encoding="utf-8")
    return load_file_config(path)


def test_the_installed_platforms_are_found_by_their_entry_points() -> None:
    found = platforms.installed()
    assert {"console", "slack", "discord"} <= set(found)
    assert found["slack"] is SLACK and found["discord"] is DISCORD
    assert found["console"].people == "names" and found["console"].one_room and found["console"].table is None
    assert not found["slack"].one_room and not found["discord"].one_room
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN"} <= set(platforms.declared_secret_envs())


def test_each_platform_table_is_parsed_by_its_own_model(tmp_path: Path) -> None:
    cfg = _config(
        tmp_path,
        '[slack]\nadmins = ["U0ADMIN"]\nchannels = ["C1"]\n'
        '[discord]\nadmin_roles = ["Moderators"]\nforum_channels = ["jobs"]\nguild_id = "1"\nadmins = ["1"]\n',
    )
    assert SLACK.config(cfg).admins == ("U0ADMIN",) and SLACK.config(cfg).channels == ("C1",)
    assert DISCORD.config(cfg).forum_channels == ("jobs",) and DISCORD.config(cfg).guild_id == "1"
    empty = _config(tmp_path, "")
    assert SLACK.config(empty).admins == () and DISCORD.config(empty).admin_roles == ()


@pytest.mark.parametrize(
    ("toml", "where"),
    [
        ('[slack]\nadmin = ["U1"]\n', "slack.admin"),  # a typo inside a platform's table
        ('[discord]\nadmin_roles = "Moderators"\n', "discord.admin_roles"),
        ('[slak]\nadmins = ["U1"]\n', "slak"),  # a table of no installed platform
        ("[console]\n", "console"),  # the console declares no table
        ('[pager]\nadmins = ["p-1"]\n', "pager"),  # not registered here
        ("platform_tables = {}\n", "platform_tables"),  # where the parsed tables are kept: not a key
    ],
)
def test_typos_and_unknown_tables_fail_at_start_up(tmp_path: Path, toml: str, where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, toml)
    assert f"{where}:" in str(caught.value)


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, 'timezone = "Mars/Base"\nbogus = 1\n[slack]\nadmins = 3\n')
    message = str(caught.value)
    assert "timezone:" in message and "bogus:" in message and "slack.admins:" in message


def test_a_registered_platform_brings_its_table_admins_and_help(
    tmp_path: Path, pager: Any, settings_factory: Any
) -> None:
    settings = settings_factory(toml='[pager]\nadmins = ["p-1"]\nadmin_roles = ["night"]\npages = 3\n')
    assert pager.config(settings.file).pages == 3
    with pytest.raises(ConfigError, match="pager.pagez"):
        _config(tmp_path, "[pager]\npagez = 3\n")
    assert is_admin(Actor("pager", "p-1"), settings)
    assert is_admin(Actor("pager", "p-2", roles=frozenset({"night"})), settings)
    assert not is_admin(Actor("pager", "p-2", roles=frozenset({"Night"})), settings)  # no role names here
    assert not is_admin(Actor("slack", "p-1"), settings)  # the pager's admins are the pager's
    assert "page draftloop" in texts.help_text("pager") and "/draftloop" not in texts.help_text("pager")


def test_an_unknown_platform_gets_the_generic_help_not_slacks() -> None:
    text = texts.help_text("matrix")
    assert GENERIC_HELP.start in text and GENERIC_HELP.decide in text
    assert "/draftloop" not in text and "@draftloop" not in text
    assert texts.help_text("slack") != text and "/draftloop help" in texts.help_text("slack")


def test_how_people_are_named_is_the_policy_s() -> None:
    platforms.register(PlatformPolicy(name="irc", people="names"))
    platforms.register(PlatformPolicy(name="guilds", role_names=True))
    try:
        assert names(Actor("irc", "nick", "Wendy"), ["wendy"])
        assert not names(Actor("pager-like", "x1", "Wendy"), ["wendy"])  # an unknown platform: ids only
        assert has_role(Actor("guilds", "1", roles=frozenset({"writers"})), ["Writers"])
        assert not has_role(Actor("irc", "1", roles=frozenset({"writers"})), ["Writers"])
    finally:
        platforms.unregister("irc")
        platforms.unregister("guilds")
    assert platforms.policy("irc").people == "ids"  # gone: the default policy again


def test_start_up_warnings_ask_every_platform_what_an_id_is(tmp_path: Path, pager: Any) -> None:
    cfg = _config(tmp_path, 'admins = ["p-7", "boss"]\n[pager]\nadmins = ["bob", "p-1"]\n')
    assert config_warnings(cfg, "pager") == [
        "config: admins entry 'boss' is not a Discord, Pager or Slack id; it only matches on the console",
        "config: [pager].admins entry 'bob' is not a pager number; it matches nobody",
    ]
