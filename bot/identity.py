"""Who a configured entry names. On Slack and Discord a person is an id; a name only on the console.

Display names are chosen by each member for themselves, so on a chat platform a configured name would
let anyone borrow it: `admins`, `experts` and a platform's own `admins` match user ids and the group or
role ids the adapter puts in `actor.roles` there. Role *names* count only in `expert_roles` and a
platform's `admin_roles`, and only where the platform's policy says so (`role_names`: Discord, where
creating or renaming a role takes the Manage Roles permission).

Which platforms name people by id and what an id looks like there is each platform's policy
(bot/platforms.py); this module asks it and knows no platform by name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from bot import platforms
from bot.events import Actor

if TYPE_CHECKING:
    from bot.config import FileConfig

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


def names(actor: Actor, entries: Iterable[str]) -> bool:
    """Whether a list of people (`admins`, `experts`) includes the actor.

    Where the platform names people (the console): by name or user id, case-insensitively. Elsewhere
    only by id, exactly: the actor's user id (the platform assigns it, so no name can equal it), or one
    of the group/role ids the adapter put in `actor.roles` (the role names there are not compared).
    """
    policy = platforms.policy(actor.platform)
    if policy.people == "names":
        wanted = {e.strip().lower() for e in entries} - {""}
        return actor.user_id.lower() in wanted or (bool(actor.name) and actor.name.lower() in wanted)
    for entry in entries:
        bare = entry_id(entry)
        if not bare:
            continue
        if bare == actor.user_id or (policy.is_id(bare) and bare in actor.roles):
            return True
    return False


def has_role(actor: Actor, roles: Iterable[str]) -> bool:
    """Whether the actor holds one of `roles` (`expert_roles`, `admin_roles`).

    A role id; also a role name (case-insensitive) where the platform's policy allows it.
    """
    if platforms.policy(actor.platform).role_names:
        held = {r.lower() for r in actor.roles}
        return any(entry_id(r).lower() in held for r in roles)
    return any(entry_id(r) in actor.roles for r in roles)


def config_warnings(cfg: FileConfig, platform: str) -> list[str]:
    """One line per configured person-entry that can match nobody on `platform` as it starts.

    Shared lists (`admins`, `experts`) warn for an entry that is an id on no platform that names people
    by id; the platform's own `admins` warn for an entry that is not an id there.
    """
    installed = sorted(platforms.installed().values(), key=lambda p: p.name)
    by_id = [p for p in installed if p.people == "ids"]
    by_name = [p for p in installed if p.people == "names"]
    out: list[str] = []
    if by_id:
        kinds = _either(p.title for p in by_id)
        fate = f"it only matches on {_either(p.title for p in by_name)}" if by_name else "it matches nobody"
        shared = [("admins", cfg.admins)] + [(f"experts of {n!r}", c.experts) for n, c in cfg.categories.items()]
        for where, entries in shared:
            out += [
                f"config: {where} entry {e!r} is not a {kinds} id; {fate}"
                for e in entries
                if not any(p.is_id(entry_id(e)) for p in by_id)
            ]
    own = platforms.policy(platform)
    if own.people == "ids":
        out += [
            f"config: [{own.name}].admins entry {e!r} is not a {own.id_kind}; it matches nobody"
            for e in own.admins_in(cfg)
            if not own.is_id(entry_id(e))
        ]
    return out


def _either(words: Iterable[str]) -> str:
    """`a`, `a or b`, `a, b or c`."""
    *rest, last = list(words)
    return f"{', '.join(rest)} or {last}" if rest else last


def warn_config(cfg: FileConfig, platform: str) -> list[str]:
    """Log `config_warnings` as a platform starts, each line once per process; returns the new lines."""
    fresh = [line for line in config_warnings(cfg, platform) if line not in _warned]
    for line in fresh:
        _warned.add(line)
        _log.warning("%s", line)
    return fresh
