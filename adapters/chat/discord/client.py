"""The discord.py client: gateway events and interactions → bot.events, answered first, worked after.

Intake: a mention of the bot in a channel, `/draft` (brief and an optional category; no brief opens a
form), and the first post of a thread in a configured forum channel. Text attachments are read into
the brief. In a project thread (one the bot opened, or a forum post), a member's message is a reply
(the core decides: feedback, an aside, `accept`, `status`…); bots, the bot itself, webhooks and edits
are not. ✅ / ❌ reactions and the buttons decide; "Request changes" opens a form (feedback, minutes).

Every interaction is answered inside Discord's 3 seconds (a message, a form or a defer) before the work
is handed to `spawn(handle(event))`. Each event carries the platform's id as `event_key`, so a
redelivered gateway event (after a RESUME) is dropped by the core.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

import discord
from discord import app_commands

from adapters.chat.discord.platform import NAME, DiscordPlatform
from adapters.chat.discord.views import (
    BRIEF_FORM,
    CHANGES_FORM,
    MAX_CONTENT,
    BriefModal,
    ChangesModal,
    form_values,
    register_persistent,
)
from bot.config import CATEGORIES
from bot.events import (
    Actor,
    Attachment,
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
from bot.identity import warn_config
from bot.settings import Settings
from bot.stats import parse_minutes

_log = logging.getLogger(__name__)

Handle = Callable[[Event], Coroutine[Any, Any, None]]
Spawn = Callable[[Coroutine[Any, Any, Any]], Any]

DECISION_EMOJI = {"✅": Outcome.ACCEPT, "☑️": Outcome.ACCEPT, "✔️": Outcome.ACCEPT, "❌": Outcome.REJECT}
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".csv", ".tsv", ".json", ".yaml", ".yml", ".py", ".html", ".xml")
MAX_ATTACHMENT_BYTES = 1_000_000
_MENTION = re.compile(r"<@!?(\d+)>")


def intents() -> discord.Intents:
    """Only what draftloop needs: guilds, guild messages (+ message content, privileged), reactions."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True
    wanted.guild_reactions = True
    return wanted


def actor_of(user: discord.abc.User | discord.Member) -> Actor:
    """The acting member. Its display name is shown, never matched; its roles (names and ids) may be."""
    roles: set[str] = set()
    if isinstance(user, discord.Member):
        for role in user.roles:
            if role.is_default():
                continue
            roles.add(role.name)
            roles.add(str(role.id))
    return Actor(
        platform=NAME,
        user_id=str(user.id),
        name=getattr(user, "display_name", "") or user.name,
        roles=frozenset(roles),
        is_bot=user.bot,
    )


def _minutes(raw: str) -> int | None:
    raw = raw.strip()
    if raw.isdigit():
        value = int(raw)
        return value if 0 < value <= 24 * 60 else None
    return parse_minutes(raw) if raw else None


async def read_attachments(attachments: list[discord.Attachment]) -> tuple[Attachment, ...]:
    """Text files (and PDFs with a text layer) become part of the brief; others are named only."""
    out: list[Attachment] = []
    for att in attachments[:10]:
        text: str | None = None
        ctype = (att.content_type or "").split(";")[0]
        name = att.filename.lower()
        readable = ctype.startswith("text/") or ctype == "application/json" or name.endswith(TEXT_SUFFIXES)
        try:
            if att.size <= MAX_ATTACHMENT_BYTES and readable:
                text = (await att.read()).decode("utf-8", errors="replace")
            elif att.size <= 5 * MAX_ATTACHMENT_BYTES and (ctype == "application/pdf" or name.endswith(".pdf")):
                text = _pdf_text(await att.read())
        except (discord.HTTPException, OSError) as exc:
            _log.info("could not read attachment %s: %s", att.filename, exc)
        out.append(Attachment(filename=att.filename, text=text, size=att.size, mimetype=ctype))
    return tuple(out)


def _pdf_text(data: bytes) -> str | None:
    import io

    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        text = "\n\n".join((page.extract_text() or "") for page in reader.pages[:50]).strip()
        return text or None
    except Exception:  # an unreadable PDF is named, not read
        return None


class DraftloopClient(discord.Client):
    def __init__(
        self,
        *,
        settings: Settings,
        handle: Handle,
        spawn: Spawn,
        sync_commands: bool = True,
        **options: Any,
    ) -> None:
        options.setdefault("chunk_guilds_at_startup", False)
        options.setdefault("max_messages", None)
        super().__init__(intents=intents(), **options)
        self.settings = settings
        self.config = settings.file.discord
        warn_config(settings.file, NAME)
        self.handle = handle
        self.spawn = spawn
        self.sync_commands = sync_commands
        guild = self.config.guild_id
        self.guild_id = int(guild) if guild and guild.isdigit() else None
        self.platform = DiscordPlatform(self, guild_id=self.guild_id)
        self.tree: app_commands.CommandTree[DraftloopClient] = app_commands.CommandTree(self)
        self._add_commands()

    # ------------------------------------------------------------------ start-up
    async def setup_hook(self) -> None:
        register_persistent(self)  # buttons sent before a restart keep working
        if not self.sync_commands:
            return
        try:
            if self.guild_id is not None:
                guild = discord.Object(id=self.guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)  # instant in that server
            else:
                await self.tree.sync()
        except discord.HTTPException as exc:
            _log.warning("discord: could not sync slash commands (%s %s); mentions still work", exc.status, exc.code)

    async def on_ready(self) -> None:
        _log.info("discord: connected as %s in %d server(s)", self.user, len(self.guilds))

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        _log.exception("discord: error in %s (the bot keeps running)", event_method)

    def _run(self, event: Event) -> None:
        self.spawn(self.handle(event))

    # ------------------------------------------------------------------ where things are
    def _forum_ids(self) -> set[str]:
        wanted = {f.lower().lstrip("#") for f in self.config.forum_channels}
        ids = set()
        for guild in self.guilds:
            for forum in guild.forums:
                if str(forum.id) in wanted or forum.name.lower() in wanted:
                    ids.add(str(forum.id))
        return ids

    def _is_project_thread(self, thread: discord.Thread) -> bool:
        me = self.user
        return (me is not None and thread.owner_id == me.id) or str(thread.parent_id) in self._forum_ids()

    @staticmethod
    def _thread_ref(channel: Any, channel_id: int) -> ThreadRef:
        if isinstance(channel, discord.Thread):
            return ThreadRef(NAME, str(channel.parent_id), str(channel.id))
        return ThreadRef(NAME, str(channel_id), str(channel_id))

    # ------------------------------------------------------------------ messages
    def _strip_mentions(self, content: str) -> str:
        me = self.user
        if me is None:
            return content.strip()
        return re.sub(rf"<@!?{me.id}>", "", content).strip()

    async def on_message(self, message: discord.Message) -> None:
        me = self.user
        if me is None or message.author.bot or message.webhook_id is not None or message.author.id == me.id:
            return
        if message.guild is None:
            return  # DMs are not an intake
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        channel = message.channel
        mentioned = any(u.id == me.id for u in message.mentions)
        text = self._strip_mentions(message.content)
        actor = actor_of(message.author)
        key = f"msg:{message.id}"
        if isinstance(channel, discord.Thread):
            thread = ThreadRef(NAME, str(channel.parent_id), str(channel.id))
            if message.id == channel.id and str(channel.parent_id) in self._forum_ids():
                await self._request(message, actor, f"{channel.name}\n\n{text}".strip(), thread=thread)
            elif self._is_project_thread(channel):
                self._run(ThreadReply(Locator(thread=thread), actor, text, message_id=str(message.id), event_key=key))
            elif mentioned:
                await self._request(message, actor, text, thread=thread)
            return
        if mentioned:
            await self._request(message, actor, text)

    async def _request(
        self, message: discord.Message, actor: Actor, text: str, *, thread: ThreadRef | None = None
    ) -> None:
        attachments = await read_attachments(list(message.attachments))
        if thread is not None:
            origin = MessageRef(NAME, thread.channel, str(message.id), thread.thread_id)
            self.platform.note_thread(int(thread.thread_id))
        else:
            origin = MessageRef(NAME, str(message.channel.id), str(message.id))
            self.platform.note_request(origin)
        event = RequestPosted(
            origin, actor, text, attachments=attachments, event_key=f"msg:{message.id}", thread=thread
        )
        self._run(event)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        me = self.user
        outcome = DECISION_EMOJI.get(str(payload.emoji))
        if me is None or outcome is None or payload.guild_id is None or payload.user_id == me.id:
            return
        member = payload.member
        if member is not None and member.bot:
            return
        channel = self.get_channel(payload.channel_id)
        if isinstance(channel, discord.Thread):
            if not self._is_project_thread(channel):
                return
            author = payload.message_author_id
            if author is not None and author != me.id and payload.message_id != channel.id:
                return  # a ✅ on someone's reply is agreement, not a decision
            thread = ThreadRef(NAME, str(channel.parent_id), str(channel.id))
        else:
            # A reaction on the request message itself, whose thread has the message's id.
            known = isinstance(self.get_channel(payload.message_id), discord.Thread)
            if not known and payload.message_id not in self.platform._threads:
                return
            thread = ThreadRef(NAME, str(payload.channel_id), str(payload.message_id))
        actor = actor_of(member) if member is not None else Actor(NAME, str(payload.user_id))
        key = f"react:{payload.message_id}:{payload.user_id}:{outcome.value}"
        self._run(
            DecisionSignal(Locator(thread=thread), actor, outcome, via="reaction", event_key=key, reply_to=thread)
        )

    # ------------------------------------------------------------------ interactions
    async def on_control(self, interaction: discord.Interaction[Any], action: str, number: int) -> None:
        """A click on Accept / Request changes / Reject (also after a restart)."""
        if action == "changes":
            await interaction.response.send_modal(ChangesModal(number))
            return
        await interaction.response.defer()  # within 3 s; nothing visible changes
        thread = self._thread_ref(interaction.channel, interaction.channel_id or 0)
        actor = actor_of(interaction.user)
        self.platform.hold_private(actor.user_id, thread.thread_id, interaction)
        outcome = Outcome.ACCEPT if action == "accept" else Outcome.REJECT
        key = f"ix:{interaction.id}"
        self._run(DecisionSignal(Locator(number=number), actor, outcome, via="button", event_key=key, reply_to=thread))

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type != discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        values = form_values(data)
        changes = CHANGES_FORM.fullmatch(custom_id)
        try:
            if changes is not None:
                await self._changes_submitted(interaction, int(changes["number"]), values)
            elif custom_id == BRIEF_FORM:
                await self._start(interaction, values.get("brief", ""), values.get("category", ""))
        except discord.HTTPException as exc:
            _log.warning("discord: could not answer a form (%s %s)", exc.status, exc.code)

    async def _changes_submitted(
        self, interaction: discord.Interaction[Any], number: int, values: dict[str, str]
    ) -> None:
        feedback = values.get("feedback", "").strip()
        minutes = _minutes(values.get("minutes", ""))
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
        resource = callback.resource
        message_id = str(getattr(resource, "id", "") or callback.message_id or "")
        thread = self._thread_ref(interaction.channel, interaction.channel_id or 0)
        self.platform.hold_private(actor.user_id, thread.thread_id, interaction)
        self._run(
            ThreadReply(
                Locator(number=number),
                actor,
                feedback,
                message_id=message_id,
                stated_minutes=minutes,
                event_key=f"ix:{interaction.id}",
            )
        )

    async def _start(self, interaction: discord.Interaction[Any], brief: str, category: str) -> None:
        """`/draft` or its form: answer at once with a message showing the request; the thread opens on it."""
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
        head = f"📝 **Request from <@{actor.user_id}>**" + (f" · {category}" if category else "") + "\n"
        body = brief if len(head) + len(brief) <= MAX_CONTENT else brief[: MAX_CONTENT - len(head) - 1] + "…"
        callback = await interaction.response.send_message(head + body, allowed_mentions=discord.AllowedMentions.none())
        resource = callback.resource
        message_id = getattr(resource, "id", None) or callback.message_id
        if message_id is None:  # Discord always returns it with with_response=1; be safe anyway
            message_id = (await interaction.original_response()).id
        origin = MessageRef(NAME, str(interaction.channel_id), str(message_id))
        self.platform.note_request(origin)
        self._run(RequestPosted(origin, actor, brief, category=category or None, event_key=f"ix:{interaction.id}"))

    async def _command(self, interaction: discord.Interaction[Any], name: str) -> None:
        await interaction.response.defer(thinking=True)
        channel = interaction.channel
        thread = self._thread_ref(channel, interaction.channel_id or 0)
        locator = Locator(thread=thread) if isinstance(channel, discord.Thread) and name == "status" else None
        reply_to = self.platform.answer_target(thread, interaction)
        command = CommandInvoked(
            name, actor_of(interaction.user), reply_to, locator=locator, event_key=f"ix:{interaction.id}"
        )
        self.spawn(self._answer_command(command, interaction))

    async def _answer_command(self, command: CommandInvoked, interaction: discord.Interaction[Any]) -> None:
        await self.handle(command)
        if self.platform.take_answer(command.reply_to)[1] is interaction:
            try:  # the core said nothing: close the "thinking…" placeholder
                await interaction.edit_original_response(content="Done.")
            except discord.HTTPException as exc:
                _log.info("discord: could not close a deferred command (%s)", exc.status)

    def _add_commands(self) -> None:
        client = self
        choices = [app_commands.Choice(name=c, value=c) for c in CATEGORIES]

        @app_commands.command(name="draft", description="Start a draftloop request: an AI draft that experts improve")
        @app_commands.describe(brief="What you need (leave empty to open a form)", category="Category (optional)")
        @app_commands.choices(category=choices)
        @app_commands.guild_only()
        async def draft(
            interaction: discord.Interaction[Any],
            brief: str | None = None,
            category: app_commands.Choice[str] | None = None,
        ) -> None:
            await client._start(interaction, brief or "", category.value if category else "")

        group = app_commands.Group(name="draftloop", description="draftloop: help, status, digest", guild_only=True)

        @group.command(name="help", description="How draftloop works here")
        async def help_(interaction: discord.Interaction[Any]) -> None:
            await client._command(interaction, "help")

        @group.command(name="status", description="Open projects in this channel, or this thread's project")
        async def status(interaction: discord.Interaction[Any]) -> None:
            await client._command(interaction, "status")

        @group.command(name="digest", description="The last 7 days: completion alone and with feedback")
        async def digest(interaction: discord.Interaction[Any]) -> None:
            await client._command(interaction, "digest")

        self.tree.add_command(draft)
        self.tree.add_command(group)

        @self.tree.error
        async def on_tree_error(interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
            _log.exception("discord: slash command failed", exc_info=error)
            if not interaction.response.is_done():
                await interaction.response.send_message(
                    "Something went wrong on our side. Nothing you sent was lost; try again in a moment.",
                    ephemeral=True,
                )
