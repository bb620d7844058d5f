"""The discord.py client: gateway events → bot.events, answered first, worked after.

Intake: a mention of the bot in a channel, `/draft` (brief and an optional category; no brief opens a
form), and the first post of a thread in a configured forum channel. Text attachments are read into
the brief. In a project thread (one the bot opened, or a forum post), a member's message is a reply
(the core decides: feedback, an aside, `accept`, `status`…); bots, the bot itself, webhooks and edits
are not. ✅ / ❌ reactions and the buttons decide; "Request changes" opens a form (feedback, minutes).
👍 / 👎 on a draft is one-tap feedback (a SignalGiven: stored per version and person, never a cycle).
Buttons, forms and slash commands are `interactions.py`.

Each event carries the platform's id as `event_key`, so a redelivered gateway event (after a RESUME)
is dropped by the core. The gateway sends an event once and waits for no answer, so every event with
an effect goes through `deliver` (the inbox's `events`: stored, then handled, replayed by the sweeper
if this process fails at it); commands, which only answer, go to `handle` directly.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

import discord
from discord import app_commands

from adapters.chat.discord.intake import actor_of, intents, read_attachments
from adapters.chat.discord.interactions import Interactions
from adapters.chat.discord.platform import DiscordPlatform
from adapters.chat.discord.policy import DISCORD, NAME
from adapters.chat.discord.views import register_persistent
from bot.events import (
    Actor,
    DecisionSignal,
    Event,
    Locator,
    MessageRef,
    RequestPosted,
    SignalGiven,
    SignalValue,
    ThreadRef,
    ThreadReply,
)
from bot.identity import warn_config
from bot.settings import Settings
from bot.vocabulary import emoji_outcome

_log = logging.getLogger(__name__)

Handle = Callable[[Event], Coroutine[Any, Any, None]]
Spawn = Callable[[Coroutine[Any, Any, Any]], Any]

SIGNALS: dict[str, SignalValue] = {"👍": "up", "👎": "down"}
# A thumb's skin tone (U+1F3FB-U+1F3FF) and the emoji variation selector do not change what it says.
_MODIFIERS = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f]")
_VERSION = re.compile(r"#(\d+) · v(\d+)")

__all__ = ["DraftloopClient", "intents"]


class DraftloopClient(discord.Client):
    def __init__(
        self,
        *,
        settings: Settings,
        handle: Handle,
        spawn: Spawn,
        deliver: Handle | None = None,
        sync_commands: bool = True,
        **options: Any,
    ) -> None:
        options.setdefault("chunk_guilds_at_startup", False)
        options.setdefault("max_messages", None)
        super().__init__(intents=intents(), **options)
        self.settings = settings
        self.config = DISCORD.config(settings.file)
        warn_config(settings.file, NAME)
        self.handle = handle
        self.deliver = deliver or handle
        self.spawn = spawn
        self.sync_commands = sync_commands
        guild = self.config.guild_id
        self.guild_id = int(guild) if guild and guild.isdigit() else None
        self.platform = DiscordPlatform(self, guild_id=self.guild_id, forum_channels=self.config.forum_channels)
        self.interactions = Interactions(platform=self.platform, handle=handle, deliver=self.deliver, spawn=spawn)
        self.tree: app_commands.CommandTree[DraftloopClient] = app_commands.CommandTree(self)
        self.interactions.add_commands(self.tree, settings.file.category_names)

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
        self.spawn(self.deliver(event))

    # ------------------------------------------------------------------ interactions (interactions.py)
    async def on_control(self, interaction: discord.Interaction[Any], action: str, number: int) -> None:
        """A decision button's click (views.DecisionButton calls this on the client)."""
        await self.interactions.on_control(interaction, action, number)

    async def on_pick(self, interaction: discord.Interaction[Any], number: int, label: str) -> None:
        """A click on Pick A / Pick B (views.PickButton calls this on the client)."""
        await self.interactions.on_pick(interaction, number, label)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type == discord.InteractionType.modal_submit:
            await self.interactions.on_form(interaction)

    # ------------------------------------------------------------------ where things are
    def _forum_ids(self) -> set[str]:
        return self.platform.board.forum_ids()

    def _is_project_thread(self, thread: discord.Thread) -> bool:
        me = self.user
        return (me is not None and thread.owner_id == me.id) or str(thread.parent_id) in self._forum_ids()

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
        signal = SIGNALS.get(_MODIFIERS.sub("", str(payload.emoji)))
        if signal is not None:
            await self._signal(payload, signal)
            return
        me = self.user
        outcome = emoji_outcome(str(payload.emoji))
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
            if not known and not self.platform.knows_thread(payload.message_id):
                return
            thread = ThreadRef(NAME, str(payload.channel_id), str(payload.message_id))
        actor = actor_of(member) if member is not None else Actor(NAME, str(payload.user_id))
        key = f"react:{payload.message_id}:{payload.user_id}:{outcome.value}"
        self._run(
            DecisionSignal(Locator(thread=thread), actor, outcome, via="reaction", event_key=key, reply_to=thread)
        )

    async def _signal(self, payload: discord.RawReactionActionEvent, value: SignalValue) -> None:
        """👍 / 👎 on one of the bot's drafts in a project thread."""
        me = self.user
        member = payload.member
        if me is None or payload.guild_id is None or payload.user_id == me.id or (member is not None and member.bot):
            return
        if payload.message_author_id is not None and payload.message_author_id != me.id:
            return  # a thumb on a person's reply is between people
        channel = self.get_channel(payload.channel_id)
        if not isinstance(channel, discord.Thread) or not self._is_project_thread(channel):
            return
        shown = self.platform.draft_of(payload.message_id) or await self._draft_in(channel, payload.message_id)
        if shown is None:
            return
        number, version = shown
        actor = actor_of(member) if member is not None else Actor(NAME, str(payload.user_id))
        key = f"react:{payload.message_id}:{payload.user_id}:{value}"
        self._run(SignalGiven(Locator(number=number), actor, version, value, event_key=key))

    async def _draft_in(self, channel: discord.Thread, message_id: int) -> tuple[int, int] | None:
        """(project, version) of a draft shown before this process started: read from its header."""
        try:
            message = await channel.fetch_message(message_id)
        except discord.HTTPException:
            return None
        parts = list(_walk(message.components))
        texts = [message.content, *(str(getattr(c, "content", "") or "") for c in parts)]
        found = next((m for t in texts if t and (m := _VERSION.search(t.split("\n", 1)[0]))), None)
        has_buttons = any(isinstance(c, discord.Button) for c in parts)
        return (int(found[1]), int(found[2])) if found and has_buttons else None


def _walk(components: Sequence[Any]) -> Iterator[Any]:
    """Every component of a received message, nested ones (a container's, a row's) included."""
    for component in components:
        yield component
        yield from _walk(getattr(component, "children", ()) or ())
