"""Reply → Discord message parts, and the persistent Accept / Request changes / Reject controls (and
Pick A / Pick B on a compared request's "pick one" notice).

Rendering is pure (`render_parts`, `split_text`): a plain Reply (a notice, help, a status) becomes one or
more message contents of at most 2,000 characters, split on paragraph boundaries, with the header on the
first and the mentions and controls on the last. Drafts are one layout message instead (`layout.py`).
Who those messages may notify is decided apart from the text (discord_safe).

The buttons are `DynamicItem`s whose custom_id carries the project number (`draftloop:accept:12`).
"Request changes" and "Reject" open forms (modals) whose custom_ids carry it too; the reject form asks
for a reason (a radio group of REJECT_REASONS) and an optional comment.
`register_persistent(client)` (called from `setup_hook` on every start) makes every such button ever
sent work again after a restart: discord.py routes a click by matching the custom_id against the
templates, no message id or in-memory view needed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import discord

from adapters.chat.discord.safe import undisguise
from bot.chunking import pack
from bot.events import REJECT_REASONS
from bot.replies import DraftHeader, Reply, ReplyKind

if TYPE_CHECKING:
    from typing import Self

MAX_CONTENT = 2000
PREFIX = "draftloop"
ACTIONS = ("accept", "changes", "reject")
CUSTOM_ID = re.compile(rf"{PREFIX}:(?P<action>accept|changes|reject):(?P<number>[0-9]{{1,12}})")
CHANGES_FORM = re.compile(rf"{PREFIX}:changes-form:(?P<number>[0-9]{{1,12}})")
REJECT_FORM = re.compile(rf"{PREFIX}:reject-form:(?P<number>[0-9]{{1,12}})")
COMMENT_CHARS = 1000
BRIEF_FORM = f"{PREFIX}:brief-form"
PICK_ID = re.compile(rf"{PREFIX}:pick:(?P<number>[0-9]{{1,12}}):(?P<label>[A-Z])")

MentionResolver = Callable[[str], str]


class ControlHandler(Protocol):
    """What the client offers the views: it turns a click or a form into a core event."""

    async def on_control(self, interaction: discord.Interaction[Any], action: str, number: int) -> None: ...

    async def on_pick(self, interaction: discord.Interaction[Any], number: int, label: str) -> None: ...


# ---------------------------------------------------------------- text


def header_line(header: DraftHeader) -> str:
    return f"**{header.label()}**"


def split_text(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """Split on paragraph boundaries (then lines, then words, then hard) into chunks of at most `limit`."""
    if len(text) <= limit:
        return [text]
    return pack(_pieces(text, limit), limit, "\n\n")


def _pieces(text: str, limit: int) -> list[str]:
    """Paragraphs no longer than `limit`; a longer paragraph is cut at lines, then spaces, then anywhere."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text.strip()):
        out.extend(_cut(para, limit, ("\n", " ")))
    return out


def _cut(text: str, limit: int, seps: tuple[str, ...]) -> list[str]:
    if len(text) <= limit:
        return [text]
    if not seps:
        return [text[i : i + limit] for i in range(0, len(text), limit)]
    sep, rest = seps[0], seps[1:]
    out: list[str] = []
    current = ""
    for part in text.split(sep):
        for small in _cut(part, limit, rest):
            joined = f"{current}{sep}{small}" if current else small
            if len(joined) <= limit:
                current = joined
            else:
                if current:
                    out.append(current)
                current = small
    if current:
        out.append(current)
    return out


@dataclass(frozen=True)
class Part:
    content: str
    last: bool


def tail_lines(reply: Reply, resolve: MentionResolver) -> list[str]:
    lines: list[str] = []
    if reply.kind == ReplyKind.PROGRESS:
        lines.append("-# writing…")
    if reply.header is not None and reply.kind == ReplyKind.DRAFT:
        meta = [reply.header.state.replace("_", " ")]
        if reply.header.agent:
            meta.append(f"agent {reply.header.agent}")
        if reply.controls:
            meta.append("decide with the buttons or a ✅ / ❌ reaction; reply here to request changes")
        lines.append("-# " + " · ".join(meta))
    if reply.mentions:
        lines.append("Experts: " + " ".join(resolve(m) for m in reply.mentions))
    return lines


def render_parts(reply: Reply, resolve: MentionResolver, *, limit: int = MAX_CONTENT) -> list[Part]:
    """The message contents for `reply`: header first, body split on paragraphs, tail on the last."""
    body = undisguise(reply.text.strip())
    if reply.header is not None and reply.kind in (ReplyKind.DRAFT, ReplyKind.PROGRESS):
        body = f"{header_line(reply.header)}\n{body}"
    tail = "\n".join(tail_lines(reply, resolve))
    whole = f"{body}\n\n{tail}" if tail and body else (body or tail)
    if len(whole) <= limit:
        return [Part(whole, True)]
    chunks = split_text(body, limit)
    if tail:
        if len(chunks[-1]) + 2 + len(tail) <= limit:
            chunks[-1] = f"{chunks[-1]}\n\n{tail}"
        else:
            chunks.append(tail[:limit])
    return [Part(c, i == len(chunks) - 1) for i, c in enumerate(chunks)]


# ---------------------------------------------------------------- controls


class DecisionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=CUSTOM_ID):
    """One of Accept / Request changes / Reject for project `number`; survives restarts."""

    LABELS = {"accept": "Accept", "changes": "Request changes", "reject": "Reject"}
    STYLES = {
        "accept": discord.ButtonStyle.success,
        "changes": discord.ButtonStyle.secondary,
        "reject": discord.ButtonStyle.danger,
    }
    EMOJI = {"accept": "✅", "changes": "✏️", "reject": "❌"}

    def __init__(self, action: str, number: int) -> None:
        self.action = action
        self.number = number
        super().__init__(
            discord.ui.Button(
                label=self.LABELS[action],
                style=self.STYLES[action],
                custom_id=f"{PREFIX}:{action}:{number}",
                emoji=self.EMOJI[action],
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match["action"], int(match["number"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler: ControlHandler = interaction.client
        await handler.on_control(interaction, self.action, self.number)


def controls_view(number: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(DecisionButton(action, number))
    return view


class PickButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=PICK_ID):
    """Pick A / Pick B for project `number`, a compared request; survives restarts."""

    def __init__(self, number: int, label: str) -> None:
        self.number = number
        self.label = label
        super().__init__(
            discord.ui.Button(
                label=f"Pick {label}", style=discord.ButtonStyle.primary, custom_id=f"{PREFIX}:pick:{number}:{label}"
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(int(match["number"]), match["label"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler: ControlHandler = interaction.client
        await handler.on_pick(interaction, self.number, self.label)


def picks_view(number: int, labels: tuple[str, ...]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for label in labels:
        view.add_item(PickButton(number, label))
    return view


class ChangesModal(discord.ui.Modal):
    """ "Request changes": what should change, and the minutes spent reviewing (optional)."""

    feedback: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="What should change?", style=discord.TextStyle.paragraph, max_length=4000, custom_id="feedback"
    )
    minutes: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Minutes you spent reviewing (optional)",
        required=False,
        max_length=12,
        placeholder="20m",
        custom_id="minutes",
    )

    def __init__(self, number: int) -> None:
        super().__init__(title=f"Request changes to #{number}"[:45], custom_id=f"{PREFIX}:changes-form:{number}")
        self.number = number

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        """Submissions are handled by custom_id in the client's `on_interaction`, so a form opened
        before a restart still lands after it."""


REASON_HINTS = {
    "wrong scope": "It answers another question than the one asked",
    "factual errors": "It states things that are not true",
    "tone": "The voice does not fit the audience",
    "format": "Length, structure or layout",
    "other": "Say what in the comment",
}


class RejectModal(discord.ui.Modal):
    """ "Reject": why (one reason, required) and a comment (optional). Radio groups live in modals only,
    inside a label (discord.py 2.7)."""

    def __init__(self, number: int) -> None:
        super().__init__(title=f"Reject #{number}"[:45], custom_id=f"{PREFIX}:reject-form:{number}")
        self.number = number
        options = [
            discord.RadioGroupOption(label=r.capitalize(), value=r, description=REASON_HINTS.get(r))
            for r in REJECT_REASONS
        ]
        self.reason: discord.ui.RadioGroup[Any] = discord.ui.RadioGroup(custom_id="reason", options=options)
        self.comment: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="comment",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=COMMENT_CHARS,
            placeholder="What should the next request do differently?",
        )
        self.add_item(discord.ui.Label(text="Why is it rejected?", component=self.reason))
        self.add_item(discord.ui.Label(text="Anything to add? (optional)", component=self.comment))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        """Handled by custom_id in the client's `on_interaction` (see ChangesModal)."""


class BriefModal(discord.ui.Modal):
    """`/draft` without a brief: the brief, and a category (optional; blank lets draftloop decide)."""

    brief: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="What do you need?", style=discord.TextStyle.paragraph, max_length=4000, custom_id="brief"
    )
    category: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Category (optional)",
        required=False,
        max_length=40,
        placeholder="writing, translation, data-science, web-dev, …",
        custom_id="category",
    )

    def __init__(self, category: str = "") -> None:
        super().__init__(title="New draftloop request", custom_id=BRIEF_FORM)
        if category:
            self.category.default = category

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        """Handled by custom_id in the client's `on_interaction` (see ChangesModal)."""


def form_values(data: Any) -> dict[str, str]:
    """The inputs of a modal submission payload (text inputs, radio groups), by custom_id; an input
    left empty is ""."""
    values: dict[str, str] = {}
    for row in (data or {}).get("components", []) or []:
        inner = row.get("components") or ([row["component"]] if "component" in row else [])
        for comp in inner:
            if "custom_id" in comp:
                values[comp["custom_id"]] = str(comp.get("value") or "")
    return values


def register_persistent(client: discord.Client) -> None:
    """Make every Accept / Request changes / Reject and Pick button ever sent answer again (call in setup_hook)."""
    client.add_dynamic_items(DecisionButton, PickButton)
