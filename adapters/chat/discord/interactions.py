"""Discord interactions → core events: the decision buttons, the forms and the slash commands.

Accept decides at once, and so does Pick A / Pick B on a compared request (as the reply `pick A`);
Request changes and Reject open forms (a reject says why: one of the core's
REJECT_REASONS and an optional comment, carried on the DecisionSignal). `/draftloop mine` is answered
privately (an ephemeral defer, then the core's list as an ephemeral layout message).

Every interaction is answered inside Discord's 3 seconds (a message, a form or a defer) before the
work is handed to `spawn(deliver(event))` (stored first, see client.py); its id is the event's key, so
a repeat is dropped by the core. A command only answers, through its interaction, which a replay in
another process would not have (and `mine` must stay private): it goes to `handle`, unstored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import discord
from discord import app_commands

from adapters.chat.common.minutes import NotMinutes, form_minutes
from adapters.chat.discord.intake import actor_of, thread_ref
from adapters.chat.discord.platform import DiscordPlatform
from adapters.chat.discord.policy import NAME
from adapters.chat.discord.views import (
    BRIEF_FORM,
    CHANGES_FORM,
    MAX_CONTENT,
    REJECT_FORM,
    BriefModal,
    ChangesModal,
    RejectModal,
    form_values,
)
from bot import texts
from bot.config import CATEGORIES
from bot.events import (
    Actor,
    CommandInvoked,
    DecisionSignal,
    Event,
    Locator,
    MessageRef,
    Outcome,
    RequestPosted,
    ThreadRef,
    ThreadReply,
)

_log = logging.getLogger(__name__)

Handle = Callable[[Event], Coroutine[Any, Any, None]]
Spawn = Callable[[Coroutine[Any, Any, Any]], Any]


class Interactions:
    def __init__(self, *, platform: DiscordPlatform, handle: Handle, deliver: Handle, spawn: Spawn) -> None:
        self.platform = platform
        self.handle = handle
        self.deliver = deliver
        self.spawn = spawn

    def _run(self, event: Event) -> None:
        self.spawn(self.deliver(event))

    async def on_control(self, interaction: discord.Interaction[Any], action: str, number: int) -> None:
        """A click on Accept / Request changes / Reject (also after a restart)."""
        if action == "changes":
            await interaction.response.send_modal(ChangesModal(number))
            return
        if action == "reject":
            await interaction.response.send_modal(RejectModal(number))
            return
        await self._decide(interaction, number, Outcome.ACCEPT, via="button")

    async def on_pick(self, interaction: discord.Interaction[Any], number: int, label: str) -> None:
        """A click on Pick A / Pick B: the reply `pick <label>` on project `number` (also after a restart)."""
        _, actor = await self._clicked(interaction)  # the thread says what was picked
        shown = str(interaction.message.id) if interaction.message is not None else ""
        self._run(
            ThreadReply(
                Locator(number=number), actor, f"pick {label}", event_key=f"ix:{interaction.id}", on_message=shown
            )
        )

    async def _clicked(self, interaction: discord.Interaction[Any]) -> tuple[ThreadRef, Actor]:
        """Answer a click within Discord's 3 s (nothing visible changes) and keep the interaction for a
        private refusal; the click's thread and who clicked."""
        await interaction.response.defer()
        thread = thread_ref(interaction.channel, interaction.channel_id or 0)
        actor = actor_of(interaction.user)
        self.platform.pending.hold_private(actor.user_id, thread.thread_id, interaction)
        return thread, actor

    async def _decide(
        self,
        interaction: discord.Interaction[Any],
        number: int,
        outcome: Outcome,
        *,
        via: str,
        reason: str | None = None,
        comment: str | None = None,
    ) -> None:
        thread, actor = await self._clicked(interaction)
        key = f"ix:{interaction.id}"
        self._run(
            DecisionSignal(
                Locator(number=number),
                actor,
                outcome,
                via=via,
                event_key=key,
                reply_to=thread,
                reason=reason,
                comment=comment,
            )
        )

    async def on_form(self, interaction: discord.Interaction[Any]) -> None:
        """A submitted form, found by its custom_id (so a form opened before a restart still lands)."""
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        values = form_values(data)
        changes = CHANGES_FORM.fullmatch(custom_id)
        reject = REJECT_FORM.fullmatch(custom_id)
        try:
            if changes is not None:
                await self._changes_submitted(interaction, int(changes["number"]), values)
            elif reject is not None:
                reason, comment = values.get("reason", "").strip(), values.get("comment", "").strip()
                await self._decide(
                    interaction,
                    int(reject["number"]),
                    Outcome.REJECT,
                    via="form",
                    reason=reason or None,
                    comment=comment or None,
                )
            elif custom_id == BRIEF_FORM:
                await self.start(interaction, values.get("brief", ""), values.get("category", ""))
        except discord.HTTPException as exc:
            _log.warning("discord: could not answer a form (%s %s)", exc.status, exc.code)

    async def _changes_submitted(
        self, interaction: discord.Interaction[Any], number: int, values: dict[str, str]
    ) -> None:
        feedback = values.get("feedback", "").strip()
        try:
            minutes = form_minutes(values.get("minutes"))
        except NotMinutes:
            minutes = None  # a Discord form cannot show an error: the feedback counts, the time does not
        actor = actor_of(interaction.user)
        if not feedback:
            await interaction.response.send_message("The form was empty; nothing was sent.", ephemeral=True)
            return
        spent = f" · {minutes} min" if minutes else ""
        shown = f"✏️ **Changes requested by {actor.display}**{spent}\n{feedback}"
        if len(shown) > MAX_CONTENT:
            shown = shown[: MAX_CONTENT - 1] + "…"
        # The answer is the visible record of the feedback in the thread.
        callback = await interaction.response.send_message(shown, allowed_mentions=discord.AllowedMentions.none())
        message_id = str(getattr(callback.resource, "id", "") or callback.message_id or "")
        thread = thread_ref(interaction.channel, interaction.channel_id or 0)
        self.platform.pending.hold_private(actor.user_id, thread.thread_id, interaction)
        key = f"ix:{interaction.id}"
        self._run(
            ThreadReply(
                Locator(number=number), actor, feedback, message_id=message_id, stated_minutes=minutes, event_key=key
            )
        )

    async def start(
        self, interaction: discord.Interaction[Any], brief: str, category: str, *, compare: bool = False
    ) -> None:
        """`/draft` or its form: answer at once with a message showing the request; the thread opens on it.
        `compare`: drafted by two agents to pick from (the form has no such field: `--compare` in its brief)."""
        brief = brief.strip()
        if not brief:
            await interaction.response.send_modal(BriefModal(category))
            return
        if isinstance(interaction.channel, discord.Thread) or interaction.guild_id is None:
            await interaction.response.send_message(
                "Use `/draft` in a text channel of the server; the project gets its own thread there.", ephemeral=True
            )
            return
        actor = actor_of(interaction.user)
        head = f"📝 **Request from <@{actor.user_id}>**" + (f" · {category}" if category else "")
        head += (" · compare two agents" if compare else "") + "\n"
        body = brief if len(head) + len(brief) <= MAX_CONTENT else brief[: MAX_CONTENT - len(head) - 1] + "…"
        callback = await interaction.response.send_message(head + body, allowed_mentions=discord.AllowedMentions.none())
        message_id = getattr(callback.resource, "id", None) or callback.message_id
        if message_id is None:  # Discord always returns it with with_response=1; be safe anyway
            message_id = (await interaction.original_response()).id
        origin = MessageRef(NAME, str(interaction.channel_id), str(message_id))
        self.platform.note_request(origin)
        key = f"ix:{interaction.id}"
        self._run(RequestPosted(origin, actor, brief, category=category or None, event_key=key, compare=compare))

    async def command(self, interaction: discord.Interaction[Any], name: str, *, private: bool = False) -> None:
        """Defer ("thinking…", only for the caller when `private`), then hand the command to the core;
        its answer goes back through this interaction."""
        await interaction.response.defer(thinking=True, ephemeral=private)
        channel = interaction.channel
        thread = thread_ref(channel, interaction.channel_id or 0)
        locator = Locator(thread=thread) if isinstance(channel, discord.Thread) and name == "status" else None
        reply_to = self.platform.pending.answer_target(thread, interaction, ephemeral=private)
        command = CommandInvoked(
            name, actor_of(interaction.user), reply_to, locator=locator, event_key=f"ix:{interaction.id}"
        )
        self.spawn(self._answer_command(command, interaction))

    async def _answer_command(self, command: CommandInvoked, interaction: discord.Interaction[Any]) -> None:
        await self.handle(command)
        if self.platform.pending.take_answer(command.reply_to)[1] is interaction:
            try:  # the core said nothing: close the "thinking…" placeholder
                await interaction.edit_original_response(content="Done.")
            except discord.HTTPException as exc:
                _log.info("discord: could not close a deferred command (%s)", exc.status)

    def add_commands(self, tree: app_commands.CommandTree[Any], categories: Sequence[str] = CATEGORIES) -> None:
        """`/draft [brief] [category]` and `/draftloop help|status|digest|mine`."""
        # Discord takes at most 25 choices; a longer list leaves the rest to `[category]` in the brief.
        choices = [app_commands.Choice(name=c, value=c) for c in categories[:25]]

        @app_commands.command(name="draft", description="Start a draftloop request: an AI draft that experts improve")
        @app_commands.describe(
            brief="What you need (leave empty to open a form)",
            category="Category (optional)",
            compare="Draft it with two agents and pick one (optional)",
        )
        @app_commands.choices(category=choices)
        @app_commands.guild_only()
        async def draft(
            interaction: discord.Interaction[Any],
            brief: str | None = None,
            category: app_commands.Choice[str] | None = None,
            compare: bool = False,
        ) -> None:
            await self.start(interaction, brief or "", category.value if category else "", compare=compare)

        tree.add_command(draft)
        tree.add_command(self._draftloop_group())

        @tree.error
        async def on_tree_error(interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
            _log.exception("discord: slash command failed", exc_info=error)
            if not interaction.response.is_done():
                await interaction.response.send_message(texts.INTERNAL_ERROR, ephemeral=True)

    def _draftloop_group(self) -> app_commands.Group:
        group = app_commands.Group(
            name="draftloop", description="draftloop: help, status, digest, mine", guild_only=True
        )

        @group.command(name="help", description="How draftloop works here")
        async def help_(interaction: discord.Interaction[Any]) -> None:
            await self.command(interaction, "help")

        @group.command(name="status", description="Open projects in this channel, or this thread's project")
        async def status(interaction: discord.Interaction[Any]) -> None:
            await self.command(interaction, "status")

        @group.command(name="digest", description="The last 7 days: completion alone and with feedback")
        async def digest(interaction: discord.Interaction[Any]) -> None:
            await self.command(interaction, "digest")

        @group.command(name="mine", description="What waits on you: drafts to decide, threads to review, requests")
        async def mine(interaction: discord.Interaction[Any]) -> None:
            await self.command(interaction, "mine", private=True)

        return group
