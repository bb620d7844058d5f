"""Discord's boundary: a draftloop message notifies exactly the users and roles draftloop chose.

Discord decides who a message notifies from its `allowed_mentions`, not from its text, so text from a
request or a model is left as written (`@everyone`, `<@&role>` and `<@user>` may show) and every send,
edit and follow-up carries an `AllowedMentions` that names the chosen ids and parses nothing:
`everyone=False`, no `users`/`roles` parsing, `replied_user=False`. The chosen ids are those of the
experts' mentions the platform itself rendered (`chosen`), or the one person a private fallback is for
(`only`). `@everyone`/`@here` are never allowed; a group is reached through a role.

Disguised links (`[https://discord.com](https://evil.example)`) are shown with their real target beside
the label (`undisguise`), outside code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import discord

from adapters.chat.common import links

_USER = re.compile(r"<@!?([0-9]{1,20})>")
_ROLE = re.compile(r"<@&([0-9]{1,20})>")
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]+`", re.DOTALL)
_LINK = re.compile(r"\[([^\[\]\n]{1,300})\]\(<?(https?://[^\s<>()]+)>?\)")

NOBODY = discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=False)


def chosen(mentions: Iterable[str]) -> discord.AllowedMentions:
    """Allow exactly the users and roles of the mention tokens draftloop rendered (`<@id>`, `<@&id>`)."""
    users: dict[int, discord.Object] = {}
    roles: dict[int, discord.Object] = {}
    for token in mentions:
        if m := _USER.fullmatch(token.strip()):
            users.setdefault(int(m.group(1)), discord.Object(int(m.group(1))))
        elif m := _ROLE.fullmatch(token.strip()):
            roles.setdefault(int(m.group(1)), discord.Object(int(m.group(1))))
    return discord.AllowedMentions(
        everyone=False, users=list(users.values()) or False, roles=list(roles.values()) or False, replied_user=False
    )


def mention_for(handle: str, guild: discord.Guild | None) -> str:
    """A configured expert (user id, role id, role name) as a Discord mention.

    A member's name is not looked up: members choose their names, so a name would send the experts'
    ping to whoever took it. Role names count (only Manage Roles can make or rename a role).
    """
    h = handle.strip()
    if h.startswith("<") and h.endswith(">"):
        return h
    h = h.removeprefix("@")
    if h.isdigit():
        if guild is not None and guild.get_role(int(h)) is not None:
            return f"<@&{h}>"
        return f"<@{h}>"
    if guild is not None:
        role = discord.utils.find(lambda r: r.name.lower() == h.lower(), guild.roles)
        if role is not None and not role.is_default():
            return role.mention
    return f"@{h}"


def only(user_id: str) -> discord.AllowedMentions:
    """Allow one person (the actor of a private notice that had to go into the thread)."""
    return chosen([f"<@{user_id}>"]) if user_id.isdigit() else NOBODY


def undisguise(markdown: str) -> str:
    """Markdown with every link whose label names another site shown as `label (<url>)`, outside code."""
    out: list[str] = []
    last = 0
    for code in _CODE.finditer(markdown):
        out.append(_LINK.sub(_link, markdown[last : code.start()]))
        out.append(code.group(0))
        last = code.end()
    out.append(_LINK.sub(_link, markdown[last:]))
    return "".join(out)


def _link(m: re.Match[str]) -> str:
    label, url = m.group(1), m.group(2)
    return f"{label} (<{url}>)" if links.disguised(label, url) else m.group(0)
