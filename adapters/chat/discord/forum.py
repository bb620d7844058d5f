"""Forum boards: in a configured forum channel each project is a post whose tags show its state.

The core tells a platform nothing about state changes beyond what it posts: every post and edit about a
project carries a DraftHeader with the project's state. So after each post or edit in a forum post,
the board compares the header's state with the tag it last set on that post and, when it differs,
sets the post's tags: the one state tag (drafting, in review, accepted, rejected, expired) plus the
tags a member chose. Streaming edits repeat the same state and cost nothing.

At start (`prepare`), each configured forum is given the five state tags it lacks, when the bot may
(Manage Channels); they are moderated, so only the bot and moderators can set them. Setting a tag on
a member's post takes Manage Threads. Without either permission the forum is worked as before, without
tags, and the log says once what is missing. A tag that cannot be set never stops a post.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import discord

from adapters.chat.discord.refusals import describe
from bot.replies import Reply

_log = logging.getLogger(__name__)

# The tag each state shows; a state not named (failed, cancelled) shows no state tag.
STATE_TAGS = {
    "drafting": "drafting",
    "revising": "drafting",
    "in_review": "in review",
    "accepted": "accepted",
    "rejected": "rejected",
    "expired": "expired",
}
TAG_NAMES = ("drafting", "in review", "accepted", "rejected", "expired")
TAG_EMOJI = {"drafting": "✍️", "in review": "👀", "accepted": "✅", "rejected": "❌", "expired": "⌛"}
MAX_FORUM_TAGS = 20  # per forum
MAX_APPLIED_TAGS = 5  # per post
REMEMBERED_POSTS = 20_000
_UNKNOWN = object()


class ForumBoard:
    def __init__(self, client: discord.Client, forum_channels: tuple[str, ...]) -> None:
        self.client = client
        self.wanted = {f.lower().lstrip("#") for f in forum_channels}
        self._shown: OrderedDict[int, str | None] = OrderedDict()  # post id -> the state tag it shows
        self._told: set[tuple[int, str]] = set()  # (forum, what is missing) already logged

    # ------------------------------------------------------------------ where
    def forums(self) -> list[discord.ForumChannel]:
        """The configured forum channels the bot can see (by id or name)."""
        return [
            forum
            for guild in self.client.guilds
            for forum in guild.forums
            if str(forum.id) in self.wanted or forum.name.lower() in self.wanted
        ]

    def forum_ids(self) -> set[str]:
        return {str(forum.id) for forum in self.forums()} if self.wanted else set()

    # ------------------------------------------------------------------ start
    async def prepare(self) -> None:
        """Create the state tags each configured forum lacks, where the bot may (Manage Channels)."""
        for forum in self.forums():
            missing = [name for name in TAG_NAMES if _tag(forum, name) is None]
            if not missing:
                continue
            me = forum.guild.me
            if me is None or not forum.permissions_for(me).manage_channels:
                self._tell(
                    forum,
                    "tags",
                    "forum #%s lacks the state tags (%s) and the bot may not create them (Manage Channels); "
                    "its posts are worked without them",
                    forum.name,
                    ", ".join(missing),
                )
                continue
            room = MAX_FORUM_TAGS - len(forum.available_tags)
            if room < len(missing):
                _log.warning("forum #%s has room for %d more tags; %s left out", forum.name, room, missing[room:])
                missing = missing[: max(room, 0)]
            if not missing:
                continue
            new = [discord.ForumTag(name=name, emoji=TAG_EMOJI[name], moderated=True) for name in missing]
            try:
                await forum.edit(available_tags=[*forum.available_tags, *new])
                _log.info("forum #%s: created the state tags %s", forum.name, ", ".join(missing))
            except discord.HTTPException as exc:
                _log.warning("forum #%s: %s", forum.name, describe(exc, "create the forum's state tags"))

    # ------------------------------------------------------------------ each post and edit
    async def follow(self, thread_id: int, reply: Reply) -> None:
        """After a post or an edit in `thread_id`: when it is a forum post, make its tags show the state."""
        header = reply.header
        if header is None or not self.wanted:
            return
        want = STATE_TAGS.get(header.state)
        if self._shown.get(thread_id, _UNKNOWN) == want:
            return
        post = self.client.get_channel(thread_id)
        if not isinstance(post, discord.Thread) or not isinstance(post.parent, discord.ForumChannel):
            return
        forum = post.parent
        if str(forum.id) not in self.forum_ids():
            return
        ours = {name: tag for name in TAG_NAMES if (tag := _tag(forum, name)) is not None}
        if not ours:
            self._remember(thread_id, want)  # a forum without the tags: nothing to show
            return
        ids = {tag.id for tag in ours.values()}
        current = list(post.applied_tags)
        kept = [tag for tag in current if tag.id not in ids]
        wanted = [*kept[: MAX_APPLIED_TAGS - 1], ours[want]] if want in ours else kept[:MAX_APPLIED_TAGS]
        if [t.id for t in wanted] == [t.id for t in current]:
            self._remember(thread_id, want)
            return
        if not self._may_tag(post, forum, moved=set(ids) & ({t.id for t in current} ^ {t.id for t in wanted})):
            self._remember(thread_id, want)
            return
        extra: dict[str, Any] = {"archived": False} if post.archived else {}
        try:
            await post.edit(applied_tags=wanted, **extra)
        except discord.HTTPException as exc:
            _log.warning("forum post %s: %s", thread_id, describe(exc, "set the post's state tag"))
            return
        self._remember(thread_id, want)

    def _may_tag(self, post: discord.Thread, forum: discord.ForumChannel, *, moved: set[int]) -> bool:
        me = post.guild.me
        if me is None:
            return False
        if post.permissions_for(me).manage_threads:
            return True
        moderated = any(tag.moderated for tag in forum.available_tags if tag.id in moved)
        if post.owner_id == me.id and not moderated:
            return True
        self._tell(
            forum,
            "threads",
            "forum #%s: the bot may not set tags on members' posts (Manage Threads); posts are worked without them",
            forum.name,
        )
        return False

    def _remember(self, thread_id: int, state: str | None) -> None:
        self._shown[thread_id] = state
        self._shown.move_to_end(thread_id)
        if len(self._shown) > REMEMBERED_POSTS:
            self._shown.popitem(last=False)

    def _tell(self, forum: discord.ForumChannel, what: str, message: str, *args: Any) -> None:
        if (forum.id, what) not in self._told:
            self._told.add((forum.id, what))
            _log.warning(message, *args)


def _tag(forum: discord.ForumChannel, name: str) -> discord.ForumTag | None:
    return next((tag for tag in forum.available_tags if tag.name.lower() == name), None)
