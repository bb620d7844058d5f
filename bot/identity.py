"""Who a configured entry names. On Slack and Discord a person is an id; a name only on the console.

Display names are chosen by each member for themselves, so on a chat platform a configured name would
let anyone borrow it: `admins`, `experts` and `[slack|discord].admins` match user ids, Slack user-group
ids (S…) and Discord role ids there. Role *names* count only in `expert_roles` and
`[discord].admin_roles`, because creating or renaming a Discord role takes the Manage Roles permission.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from bot.events import Actor

if TYPE_CHECKING:
    from bot.config import FileConfig

# Platforms where the speaker's name is all there is (the console: the "user id" is the name).
NAMED_PLATFORMS = frozenset({"console"})

_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")
_SLACK_GROUP = re.compile(r"S[A-Z0-9]{2,}")
_SNOWFLAKE = re.compile(r"\d{15,21}")
# <@U123>, <@!123>, <@&123>, <!subteam^S123|@writers>, also as pasted from a message.
_TOKEN = re.compile(r"<(?:@[!&]?|!subteam\^)([A-Za-z0-9]+)(?:\|[^>]*)?>")

_log = logging.getLogger(__name__)
_warned: set[str] = set()


def entry_id(entry: str) -> str:
    """The bare id of a configured entry: `<@U1>`, `<!subteam^S1|@x>`, `@U1` and ` U1 ` all give `U1`."""
    entry = entry.strip()
    token = _TOKEN.fullmatch(entry)
    if token is not None:
        return token.group(1)
    return entry.removeprefix("@")


def is_slack_id(entry: str) -> bool:
    bare = entry_id(entry)
    return bool(_SLACK_USER.fullmatch(bare) or _SLACK_GROUP.fullmatch(bare))


def is_discord_id(entry: str) -> bool:
    return bool(_SNOWFLAKE.fullmatch(entry_id(entry)))


def is_id(platform: str, entry: str) -> bool:
    """Whether `entry` has the shape of an id on `platform` (any other platform compares exactly)."""
    if platform == "slack":
        return is_slack_id(entry)
    if platform == "discord":
        return is_discord_id(entry)
    return bool(entry.strip())


def names(actor: Actor, entries: Iterable[str]) -> bool:
    """Whether a list of people (`admins`, `experts`) includes the actor.

    On the console by name or user id, case-insensitively. Elsewhere only by id, exactly: the actor's
    user id (the platform assigns it, so no name can equal it), or one of the group/role ids the adapter
    put in `actor.roles` (Slack user groups, Discord roles; the role names there are not compared).
    """
    if actor.platform in NAMED_PLATFORMS:
        wanted = {e.strip().lower() for e in entries} - {""}
        return actor.user_id.lower() in wanted or (bool(actor.name) and actor.name.lower() in wanted)
    for entry in entries:
        bare = entry_id(entry)
        if not bare:
            continue
        if bare == actor.user_id or (is_id(actor.platform, bare) and bare in actor.roles):
            return True
    return False


def has_role(actor: Actor, roles: Iterable[str]) -> bool:
    """Whether the actor holds one of `roles` (`expert_roles`, `admin_roles`).

    Discord: a role id or a role name (case-insensitive; roles are admin-controlled). Elsewhere ids only.
    """
    if actor.platform == "discord":
        held = {r.lower() for r in actor.roles}
        return any(entry_id(r).lower() in held for r in roles)
    return any(entry_id(r) in actor.roles for r in roles)


def config_warnings(cfg: FileConfig, platform: str) -> list[str]:
    """One line per configured person-entry that can match nobody on `platform` ("slack" or "discord")."""
    out: list[str] = []

    def shared(where: str, entries: Iterable[str]) -> None:
        for e in entries:
            if not (is_slack_id(e) or is_discord_id(e)):
                out.append(f"config: {where} entry {e!r} is not a Slack or Discord id; it only matches on the console")

    shared("admins", cfg.admins)
    for name, cat in cfg.categories.items():
        shared(f"experts of {name!r}", cat.experts)
    if platform == "slack":
        out += [
            f"config: [slack].admins entry {e!r} is not a Slack user or user-group id; it matches nobody"
            for e in cfg.slack.admins
            if not is_slack_id(e)
        ]
    if platform == "discord":
        out += [
            f"config: [discord].admins entry {e!r} is not a Discord user or role id; it matches nobody"
            for e in cfg.discord.admins
            if not is_discord_id(e)
        ]
    return out


def warn_config(cfg: FileConfig, platform: str) -> list[str]:
    """Log `config_warnings` as a platform starts, each line once per process; returns the new lines."""
    fresh = [line for line in config_warnings(cfg, platform) if line not in _warned]
    for line in fresh:
        _warned.add(line)
        _log.warning("%s", line)
    return fresh
