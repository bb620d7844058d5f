"""What waits on one person, as Block Kit: the `/draftloop mine` answer and the App Home tab.

Pure functions: no I/O, no SDK objects. Every text a person or a model wrote (a brief) is escaped
(slack_safe); the links are made here, to each project's thread. Limits: a home view holds at most
100 blocks, a message 50, a section 3,000 characters.
"""

from __future__ import annotations

from typing import Any

from adapters.chat.slack import safe
from bot import texts
from bot.loop.commands import MineItem, MineList
from bot.report.lines import headline, reactions_line, summary_lines

Block = dict[str, Any]

SECTION_CHARS = 2900
MAX_ITEMS = 15  # per group: enough to act on, short enough to read
HOME_CALLBACK = "dl_home"


def thread_link(item: MineItem, team_url: str | None) -> str:
    """A link to the project's thread: the permalink of its first message, or the channel."""
    channel, ts = item.thread.channel, item.thread.thread_id
    label = f"#{item.number}"
    if team_url and ts and ts.replace(".", "").isdigit():
        url = f"{team_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
        return f"<{safe.esc(url)}|{label}>"
    return f"{label} in <#{channel}>" if channel.startswith(("C", "G")) else label


def _line(item: MineItem, team_url: str | None) -> str:
    v = f"v{item.version}" if item.version else "no draft yet"
    rest = f" · {item.state.replace('_', ' ')} · {v} · {safe.esc(item.category)} · {safe.esc(item.brief)}"
    return f"• {thread_link(item, team_url)}{rest}"


def mine_blocks(found: MineList, team_url: str | None, *, limit: int = MAX_ITEMS) -> list[Block]:
    """The list, one section per reason (drafts to decide, threads to review, open requests)."""
    if not found.items:
        return [_section(safe.esc(texts.NOTHING_WAITS))]
    out: list[Block] = []
    for why, items in (("decide", found.decide), ("review", found.review), ("requested", found.requested)):
        if not items:
            continue
        lines = [_line(i, team_url) for i in items[:limit]]
        if len(items) > limit:
            lines.append(f"_… and {len(items) - limit} more_")
        out.append(_section(f"*{texts.MINE_HEADINGS[why]}*\n" + "\n".join(lines)))
    return out


def home_view(found: MineList, team_url: str | None, digest: dict[str, Any] | None) -> Block:
    """The Home tab: what waits on the person, then this week's headline figures."""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Waiting on you"}},
        *mine_blocks(found, team_url),
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "This week"}},
    ]
    if digest is not None:
        blocks.append(_section(safe.esc(headline(digest))))
        facts = [summary_lines(digest)[0]]
        reactions = reactions_line(digest)
        if reactions:
            facts.append(reactions)
        blocks.append({"type": "context", "elements": [_mrkdwn(safe.esc(f)) for f in facts]})
    else:
        blocks.append(_section("_The figures could not be read just now._"))
    blocks.append(
        {
            "type": "context",
            "elements": [_mrkdwn("`/draftloop mine` lists the same anywhere; `/draftloop digest` shows the week.")],
        }
    )
    return {"type": "home", "callback_id": HOME_CALLBACK, "blocks": blocks[:100]}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(safe.cut(text, SECTION_CHARS))}


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text, "verbatim": True}
