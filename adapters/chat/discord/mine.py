"""`/draftloop mine` as Discord shows it: an ephemeral layout message listing what waits on the caller.

The core gives the list as data (`bot.loop.commands.MineList`, briefs already through the redaction):
drafts waiting on the caller's decision, threads in review where they are an expert, their open
requests. Each item links to its thread. One container, one text display per group: at most 4,000
characters in all, so a long list ends with how many more there are.
"""

from __future__ import annotations

from collections.abc import Callable

import discord

from adapters.chat.discord.layout import TEXT_LIMIT
from bot import texts
from bot.loop.commands import MineItem, MineList

LinkFor = Callable[[MineItem], str | None]
TITLE = "**What waits on you**"
ACCENT = 0x5865F2


def mine_layout(found: MineList, link: LinkFor) -> discord.ui.LayoutView:
    container = discord.ui.Container[discord.ui.LayoutView](accent_colour=ACCENT)
    container.add_item(discord.ui.TextDisplay(TITLE))
    room = TEXT_LIMIT - len(TITLE)
    groups = [
        (why, items)
        for why, items in (("decide", found.decide), ("review", found.review), ("requested", found.requested))
        if items
    ]
    if not groups:
        container.add_item(discord.ui.TextDisplay(texts.NOTHING_WAITS))
    for index, (why, items) in enumerate(groups):
        if room <= 0:  # the last group shown said how many more there are
            break
        later = sum(len(rest) for _, rest in groups[index + 1 :])
        block, room = _group(texts.MINE_HEADINGS[why], items, link, room, later)
        if block:
            container.add_item(discord.ui.TextDisplay(block))
    view = discord.ui.LayoutView(timeout=None)
    view.add_item(container)
    return view


def _group(heading: str, items: tuple[MineItem, ...], link: LinkFor, room: int, later: int) -> tuple[str, int]:
    """The group's text within `room` characters (leaving a line for what does not fit); what is left."""
    lines = [f"**{heading}**"]
    used = len(lines[0])
    reserve = 40  # "…and N more" for this group and the ones after it
    for shown, item in enumerate(items):
        line = _line(item, link)
        if used + 1 + len(line) > room - reserve:
            lines.append(f"…and {len(items) - shown + later} more")
            return "\n".join(lines), 0
        lines.append(line)
        used += 1 + len(line)
    text = "\n".join(lines)
    return text, room - len(text)


def _line(item: MineItem, link: LinkFor) -> str:
    url = link(item)
    number = f"[#{item.number}]({url})" if url else f"#{item.number}"
    rest = texts.mine_line(item.number, item.state, item.version, item.category, item.brief)
    rest = rest.split(" · ", 1)[1] if " · " in rest else rest
    return f"- {number} · {discord.utils.escape_markdown(rest)}"
