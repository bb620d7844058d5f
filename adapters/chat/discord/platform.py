"""ChatPlatform over a discord.py client: threads, drafts as one layout message, files, ephemerals.

A draft and its progress are one Components V2 message (`layout.py`): header, text (up to 3,600
characters; the core attaches a longer draft as a Markdown file), state line, mentions and buttons, edited
in place while the model writes. Everything else is plain content, split at 2,000 characters.
After each post and edit, the forum board (`forum.py`) lets a forum post's tags follow the state.

A project's ThreadRef is (parent channel id, thread id). On Discord a thread opened on a message has the
message's id, so `MessageRef.thread()` of a request already names its future thread. Posting to a
ThreadRef whose id is not (yet) a thread, as for help on an empty mention, replies to that message in
the parent channel instead.

Private notices go, in order of preference: as an ephemeral follow-up of the person's own pending
interaction (a button or a form they just used), as a DM, or as a short message in the thread that
mentions them.

Every send, edit and follow-up names who it may notify (discord_safe): the experts' users and roles
draftloop rendered for the reply, or the one person a notice is for; never @everyone, @here, or a user
or role that text from a request or a model mentions.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from dataclasses import replace
from typing import Any

import discord

from adapters.chat.discord import safe as discord_safe
from adapters.chat.discord.forum import ForumBoard
from adapters.chat.discord.layout import BODY_CHARS, wants_layout
from adapters.chat.discord.mine import mine_layout
from adapters.chat.discord.outgoing import Outgoing, prepare
from adapters.chat.discord.pending import PendingInteractions
from adapters.chat.discord.policy import NAME
from adapters.chat.discord.refusals import ARCHIVED, THREAD_EXISTS, UNKNOWN_CHANNEL, describe
from adapters.chat.discord.views import MAX_CONTENT
from bot.errors import PlatformError
from bot.events import Actor, MessageRef, ThreadRef
from bot.loop.commands import MineItem, MineList
from bot.ports import PlatformLimits
from bot.recent import RecentKeys
from bot.replies import Reply, ReplyKind

_log = logging.getLogger(__name__)

# Threads and requests this process has met, for choosing how to post before Discord is asked.
KNOWN_THREADS = 50_000
KNOWN_REQUESTS = 10_000


class DiscordPlatform:
    name = NAME
    limits = PlatformLimits(
        max_message_chars=BODY_CHARS,  # a layout message's text, beside its header and state line
        max_inline_chars=BODY_CHARS,  # one message; a longer draft goes as a .md file
        min_edit_interval=1.1,  # Discord allows 5 edits per 5 s per channel
        buttons=True,
        reactions=True,
    )

    def __init__(
        self, client: discord.Client, *, guild_id: int | None = None, forum_channels: tuple[str, ...] = ()
    ) -> None:
        self.client = client
        self.guild_id = guild_id
        self.board = ForumBoard(client, forum_channels)
        self._threads: RecentKeys[int] = RecentKeys(KNOWN_THREADS)  # thread ids known to exist
        self._requests: RecentKeys[int] = RecentKeys(KNOWN_REQUESTS)  # request message ids (no thread yet)
        self._continuations: dict[int, list[int]] = {}  # first message id -> the rest of a split message
        self._drafts: OrderedDict[int, tuple[int, int]] = OrderedDict()  # message id -> (project, version)
        self.pending = PendingInteractions()  # acknowledged interactions the core may answer through

    # ------------------------------------------------------------------ bookkeeping the client feeds
    def note_thread(self, thread_id: int) -> None:
        self._threads.add(thread_id)

    def knows_thread(self, thread_id: int) -> bool:
        return thread_id in self._threads

    def note_request(self, origin: MessageRef) -> None:
        if origin.thread_id is None:
            self._requests.add(int(origin.message_id))

    def draft_of(self, message_id: int) -> tuple[int, int] | None:
        """(project, version) of a draft message this process showed, for a 👍 / 👎 on it."""
        return self._drafts.get(message_id)

    def _note_draft(self, message_id: int, reply: Reply) -> None:
        if reply.kind != ReplyKind.DRAFT or reply.header is None or not reply.header.version:
            return
        self._drafts[message_id] = (reply.header.number, reply.header.version)
        self._drafts.move_to_end(message_id)
        if len(self._drafts) > KNOWN_REQUESTS:
            self._drafts.popitem(last=False)

    # ------------------------------------------------------------------ ChatPlatform
    async def open_thread(self, origin: MessageRef, *, number: int, title: str) -> ThreadRef:
        if origin.thread_id is not None:  # already inside a thread (forum post): work there
            return ThreadRef(NAME, origin.channel, origin.thread_id)
        name = (f"#{number} {' '.join(title.split())}".strip() or f"#{number}")[:100]
        channel_id, message_id = int(origin.channel), int(origin.message_id)
        try:
            await self.client.http.start_thread_with_message(
                channel_id, message_id, name=name, auto_archive_duration=10080, rate_limit_per_user=None
            )
        except discord.HTTPException as exc:
            if exc.code != THREAD_EXISTS:  # a redelivered request: the thread is already there
                _log.warning("open_thread in %s: %s", channel_id, describe(exc, "create a thread"))
                raise PlatformError(describe(exc, "create a thread")) from exc
        self.note_thread(message_id)
        return ThreadRef(NAME, origin.channel, origin.message_id)

    async def post(self, thread: ThreadRef, reply: Reply) -> MessageRef:
        thread, interaction = self.pending.take_answer(thread)
        if interaction is not None:
            try:
                return await self._followup(interaction, thread, reply)
            except discord.HTTPException as exc:
                _log.warning("follow-up failed, posting instead: %s", describe(exc, "send a follow-up"))
        ref = await self._post(thread, reply)
        self._note_draft(int(ref.message_id), reply)
        await self.board.follow(int(ref.thread_id or ref.channel), reply)
        return ref

    async def edit(self, message: MessageRef, reply: Reply) -> None:
        """Edit a message in place. The core edits its acknowledgement (plain) and a draft's progress
        message, which is a layout message from its first post to its last edit (the flag stays)."""
        dest = int(message.thread_id or message.channel)
        mid = int(message.message_id)
        out = prepare(reply, self._guild_for(dest), attachments=False, layout=reply.kind != ReplyKind.ACK)
        channel = self.client.get_partial_messageable(dest)
        if out.layout is not None:
            await self._edit_layout(channel, mid, out)
        else:
            await self._edit_parts(channel, mid, out)
        self._note_draft(mid, reply)
        await self.board.follow(dest, reply)

    async def _edit_layout(self, channel: discord.PartialMessageable, mid: int, out: Outgoing) -> None:
        assert out.layout is not None
        try:
            # content=None clears a plain message's text, as opting into a layout requires.
            await self._edit_one(channel, mid, None, out.layout.view, out.allowed)
            for surplus in self._continuations.pop(mid, []):  # a plain draft split before the upgrade
                await channel.get_partial_message(surplus).delete()
        except discord.HTTPException as exc:
            _log.warning("edit %s in %s: %s", mid, channel.id, describe(exc, "edit a message"))
            raise PlatformError(describe(exc, "edit a message")) from exc

    async def _edit_parts(self, channel: discord.PartialMessageable, mid: int, out: Outgoing) -> None:
        parts, allowed, view = out.parts, out.allowed, out.view
        dest = channel.id
        try:
            await self._edit_one(channel, mid, parts[0].content, view if parts[0].last else None, allowed)
            old = self._continuations.pop(mid, [])
            kept: list[int] = []
            for i, part in enumerate(parts[1:]):
                part_view = view if part.last else None
                if i < len(old):
                    await self._edit_one(channel, old[i], part.content, part_view, allowed)
                    kept.append(old[i])
                else:
                    extra: dict[str, Any] = {"view": part_view} if part_view is not None else {}
                    sent = await channel.send(part.content, **extra, allowed_mentions=allowed)
                    kept.append(sent.id)
            for surplus in old[len(parts) - 1 :]:
                await channel.get_partial_message(surplus).delete()
            if kept:
                self._continuations[mid] = kept
        except discord.HTTPException as exc:
            _log.warning("edit %s in %s: %s", mid, dest, describe(exc, "edit a message"))
            raise PlatformError(describe(exc, "edit a message")) from exc

    async def upload(self, thread: ThreadRef, *, filename: str, content: str, reply: Reply) -> MessageRef:
        thread, _ = self.pending.take_answer(thread)
        data = content.encode("utf-8")
        files = ((filename, data), *reply.files)
        ref = await self._post(thread, replace(reply, files=files))
        self._note_draft(int(ref.message_id), reply)
        await self.board.follow(int(ref.thread_id or ref.channel), reply)
        return ref

    async def notify_private(self, thread: ThreadRef, actor: Actor, text: str) -> None:
        thread, answer = self.pending.take_answer(thread)
        if answer is not None:
            with contextlib.suppress(discord.HTTPException):
                await answer.followup.send(text[:MAX_CONTENT], ephemeral=True, allowed_mentions=discord_safe.NOBODY)
                return
        interaction = self.pending.take_private(actor.user_id, thread.thread_id)
        if interaction is not None:
            try:
                await interaction.followup.send(
                    text[:MAX_CONTENT], ephemeral=True, allowed_mentions=discord_safe.NOBODY
                )
                return
            except discord.HTTPException as exc:
                _log.info("ephemeral follow-up failed (%s); trying a DM", exc.status)
        try:
            dm = await self.client.http.start_private_message(int(actor.user_id))
            dm_channel = self.client.get_partial_messageable(int(dm["id"]))
            await dm_channel.send(text[:MAX_CONTENT], allowed_mentions=discord_safe.NOBODY)
            return
        except (discord.HTTPException, ValueError) as exc:
            _log.info("DM to %s failed (%s); answering in the thread", actor.user_id, getattr(exc, "status", exc))
        short = f"<@{actor.user_id}> {text}"[:MAX_CONTENT]
        await self._send(thread, short, allowed_mentions=discord_safe.only(actor.user_id))

    async def show_private(self, thread: ThreadRef, actor: Actor, reply: Reply) -> None:
        """`/draftloop mine`'s answer (the core hands the list as `reply.data`): an ephemeral layout message
        with a link to each thread, through the caller's own interaction; elsewhere, the Markdown list
        as any private notice."""
        plain, answer = self.pending.take_answer(thread)
        if answer is not None and isinstance(reply.data, MineList):
            try:
                view = mine_layout(reply.data, self._link)
                await answer.followup.send(view=view, ephemeral=True, allowed_mentions=discord_safe.NOBODY)
                return
            except discord.HTTPException as exc:
                _log.warning("mine: %s", describe(exc, "answer privately"))
        await self.notify_private(plain, actor, reply.text)

    def _link(self, item: MineItem) -> str | None:
        """A project's thread as a link (a jump URL needs the server's id)."""
        where = item.thread.thread_id or item.thread.channel
        guild = self._guild_for(int(where)) if where.isdigit() else None
        return f"https://discord.com/channels/{guild.id}/{where}" if guild is not None else None

    # ------------------------------------------------------------------ helpers
    async def _post(self, thread: ThreadRef, reply: Reply) -> MessageRef:
        dest, _ = _ids(thread)
        out = prepare(reply, self._guild_for(dest), layout=wants_layout(reply))
        if out.layout is not None:
            sent, where = await self._send(
                thread, None, view=out.layout.view, allowed_mentions=out.allowed, **out.extras
            )
            thread_id = None if where.thread_id in ("", where.channel) else where.thread_id
            return MessageRef(NAME, thread.channel, str(sent), thread_id)
        ids: list[int] = []
        where = thread
        for part in out.parts:
            kwargs: dict[str, Any] = {"allowed_mentions": out.allowed}
            if part.last:
                kwargs.update(out.extras)
                if out.view is not None:
                    kwargs["view"] = out.view
            sent, where = await self._send(where, part.content, **kwargs)
            ids.append(sent)
        if len(ids) > 1:
            self._continuations[ids[0]] = ids[1:]
        thread_id = None if where.thread_id in ("", where.channel) else where.thread_id
        return MessageRef(NAME, thread.channel, str(ids[0]), thread_id)

    async def _send(self, thread: ThreadRef, content: str | None, **kwargs: Any) -> tuple[int, ThreadRef]:
        """Send into the thread (or the channel, or as a reply to a request without a thread yet)."""
        tid, cid = _ids(thread)
        as_reply = tid != cid and tid in self._requests and tid not in self._threads
        if as_reply:
            return await self._reply_to(cid, tid, content, **kwargs), ThreadRef(NAME, str(cid), str(cid))
        try:
            message = await self._send_to(tid, content, **kwargs)
        except discord.NotFound as exc:
            if exc.code == UNKNOWN_CHANNEL and tid != cid:  # a message id that never became a thread
                return await self._reply_to(cid, tid, content, **kwargs), ThreadRef(NAME, str(cid), str(cid))
            raise PlatformError(describe(exc, "post a message")) from exc
        return message.id, thread

    async def _send_to(self, dest: int, content: str | None, **kwargs: Any) -> discord.Message:
        channel = self.client.get_partial_messageable(dest)
        try:
            return await channel.send(content, **kwargs)
        except discord.HTTPException as exc:
            if exc.code == ARCHIVED:
                if await self._unarchive(dest):
                    return await channel.send(content, **kwargs)
            if isinstance(exc, discord.NotFound):
                raise
            _log.warning("post in %s: %s", dest, describe(exc, "post a message"))
            raise PlatformError(describe(exc, "post a message")) from exc

    async def _reply_to(self, channel_id: int, message_id: int, content: str | None, **kwargs: Any) -> int:
        channel = self.client.get_partial_messageable(channel_id)
        ref = discord.MessageReference(message_id=message_id, channel_id=channel_id, fail_if_not_exists=False)
        try:
            return (await channel.send(content, reference=ref, **kwargs)).id
        except discord.HTTPException as exc:
            _log.warning("reply in %s: %s", channel_id, describe(exc, "reply to a request"))
            raise PlatformError(describe(exc, "reply to a request")) from exc

    async def _unarchive(self, thread_id: int) -> bool:
        try:
            await self.client.http.edit_channel(thread_id, archived=False, locked=False)
            _log.info("unarchived thread %s to post in it", thread_id)
            return True
        except discord.HTTPException as exc:
            _log.warning("thread %s: %s", thread_id, describe(exc, "unarchive the thread"))
            return False

    async def _edit_one(
        self,
        channel: discord.PartialMessageable,
        mid: int,
        content: str | None,
        view: discord.ui.View | discord.ui.LayoutView | None,
        allowed: discord.AllowedMentions,
    ) -> None:
        # An edit that adds a mention notifies too: it carries the same limit as a send.
        message = channel.get_partial_message(mid)
        try:
            await message.edit(content=content, view=view, allowed_mentions=allowed)
        except discord.HTTPException as exc:
            if exc.code == ARCHIVED and await self._unarchive(channel.id):
                await message.edit(content=content, view=view, allowed_mentions=allowed)
                return
            raise

    async def _followup(self, interaction: discord.Interaction[Any], thread: ThreadRef, reply: Reply) -> MessageRef:
        dest, _ = _ids(thread)
        out = prepare(reply, self._guild_for(dest), layout=wants_layout(reply))
        private = self.pending.is_ephemeral(interaction)
        if out.layout is not None:
            sent = await interaction.followup.send(
                view=out.layout.view, wait=True, ephemeral=private, allowed_mentions=out.allowed, **out.extras
            )
            return MessageRef(NAME, thread.channel, str(sent.id), thread.thread_id)
        first: int | None = None
        for part in out.parts:
            kwargs: dict[str, Any] = {"allowed_mentions": out.allowed, "ephemeral": private}
            if part.last:
                kwargs.update(out.extras)
            sent = await interaction.followup.send(part.content, wait=True, **kwargs)
            first = first or sent.id
        assert first is not None
        return MessageRef(NAME, thread.channel, str(first), thread.thread_id)

    def _guild_for(self, channel_id: int) -> discord.Guild | None:
        channel = self.client.get_channel(channel_id)
        guild = getattr(channel, "guild", None)
        if isinstance(guild, discord.Guild):
            return guild
        if self.guild_id is not None:
            return self.client.get_guild(self.guild_id)
        return self.client.guilds[0] if self.client.guilds else None


def _ids(thread: ThreadRef) -> tuple[int, int]:
    """(where to send, the parent channel): an empty thread id means the channel itself (digests)."""
    tid = thread.thread_id or thread.channel
    cid = thread.channel or tid
    if not tid.isdigit() or not cid.isdigit():
        raise PlatformError(f"{thread.thread_id or thread.channel!r} is not a Discord channel or thread id")
    return int(tid), int(cid)
