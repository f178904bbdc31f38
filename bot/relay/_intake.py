"""Discord → the relay outbox: which messages go to the blog, as whom, and in what order.

Every accepted message (its edit, its deletion) is recorded before any call to the blog; the
post thread's read cursor moves only after that, so what was written while the bot was offline
is read from the thread's history at the next start (:meth:`Intake.catch_up_from`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Final

from bot.config import BlogConfig
from bot.relay._feedback import Feedback
from bot.relay._policy import (
    DM_REFUSAL,
    Linked,
    Refused,
    edit_too_late,
    identity,
    too_fast,
    too_long,
)
from bot.relay.content import to_isso_markdown, to_wordpress_html
from bot.relay.models import ChatMessage, Verdict
from bot.storage import Relay, RelayRequest, Storage
from bot.storage.relays import RelayOp

log = logging.getLogger("bot.relay")


class Intake:
    """Records what Discord users write in post threads as rows of the relay outbox."""

    def __init__(
        self,
        blogs: Mapping[str, BlogConfig],
        storage: Storage,
        feedback: Feedback,
        clock: Callable[[], datetime],
        wake: Callable[[str], None],
    ) -> None:
        self._blogs = blogs
        self._storage = storage
        self._feedback = feedback
        self._clock = clock
        self._wake = wake
        # discord.py runs each event handler in its own task: one at a time, in the order they
        # started (asyncio locks are fair), keeps the outbox in the order Discord sent them.
        self._arrivals = asyncio.Lock()

    async def accept(self, message: ChatMessage) -> Verdict:
        """Record a new message for its blog, or refuse it with a short explanation."""
        async with self._arrivals:
            return await self._accept(message)

    async def edited(self, message: ChatMessage) -> Verdict:
        """Carry an edit to the blog comment (within ``relay.edit_window``)."""
        async with self._arrivals:
            return await self._edited(message)

    async def deleted(self, message_id: int) -> Verdict:
        """Trash the blog comment of a deleted message (within ``relay.edit_window``)."""
        async with self._arrivals:
            return await self._deleted(message_id)

    async def _accept(self, message: ChatMessage) -> Verdict:
        if message.automated:
            return Verdict("ignored", "written by a bot or a webhook")
        if message.guild_id is None:
            if not self._blogs:
                return Verdict("ignored", "the relay is off")
            return await self._feedback.refuse(message, DM_REFUSAL)
        thread = await self._storage.thread_post(message.channel_id)
        if thread is None:
            return Verdict("ignored", "not a post thread")
        blog = self._blogs.get(thread.blog)
        if blog is None:
            verdict = Verdict("ignored", "the relay is off for this blog")
        else:
            verdict = await self._accept_in_thread(blog, thread.post_key, message)
        # After the outcome is recorded: a crash before this line only means a second look.
        await self._storage.advance_cursor(thread.blog, thread.thread_id, message.message_id)
        return verdict

    async def _accept_in_thread(
        self, blog: BlogConfig, post_key: str, message: ChatMessage
    ) -> Verdict:
        if self._clock() - message.created_at > blog.relay.give_up_after:
            log.warning(
                "%s: message %s was written %s ago, while the bot was offline; too old "
                "(relay.give_up_after) to be carried to the blog",
                blog.name,
                message.message_id,
                self._clock() - message.created_at,
            )
            return Verdict("ignored", "too old")
        known = await self._storage.relay_of_message(message.message_id)
        if known is not None:  # the gateway replayed it
            return Verdict("accepted", relay_id=known.id)
        if not message.content.strip() and not message.attachments:
            return Verdict("ignored", "nothing to relay")
        who = identity(blog, message)
        if isinstance(who, Refused):
            return await self._feedback.refuse(message, who)
        minute_before = snowflake_at(message.created_at - timedelta(minutes=1))
        recent = await self._storage.relays_between(
            message.author_id, minute_before, message.message_id
        )
        refusal = too_long(blog, message) or too_fast(blog, recent)
        if refusal is not None:
            return await self._feedback.refuse(message, refusal)
        account = who.username if isinstance(who, Linked) and who.own_account else None
        name = who.username if isinstance(who, Linked) else who.name
        request = RelayRequest(
            blog=blog.name,
            op="create",
            dedupe_key=f"create:{message.message_id}",
            message_id=message.message_id,
            channel_id=message.channel_id,
            user_id=message.author_id,
            author_name=name,
            account=account,
            post_key=post_key,
            content=_content(blog, message),
            reply_to=message.reply_to,
        )
        row, _ = await self._storage.record_relay(request)
        self._wake(blog.name)
        return Verdict("accepted", relay_id=row.id)

    async def _edited(self, message: ChatMessage) -> Verdict:
        created, blog = await self._relayed(message.message_id)
        if created is None or blog is None or message.automated:
            return Verdict("ignored", "not relayed")
        content = _content(blog, message)
        latest = await self._storage.latest_relay_content(message.message_id)
        if content == latest:
            return Verdict("ignored", "the text did not change")  # e.g. an embed was added
        if self._clock() - message.created_at > blog.relay.edit_window:
            # no ❌: the comment itself is still on the blog (its ✅ stays true)
            too_late = edit_too_late(blog.relay.edit_window)
            return await self._feedback.refuse(message, too_late, react=False)
        stamp = (message.edited_at or self._clock()).isoformat()
        return await self._follow_up(created, "edit", f"edit:{message.message_id}:{stamp}", content)

    async def _deleted(self, message_id: int) -> Verdict:
        created, blog = await self._relayed(message_id)
        if created is None or blog is None:
            return Verdict("ignored", "not relayed")
        if self._clock() - created.created_at > blog.relay.edit_window:
            log.info(
                "%s: message %s deleted after the edit window; comment kept", blog.name, message_id
            )
            return Verdict("ignored", "after the edit window")
        return await self._follow_up(created, "delete", f"delete:{message_id}", "")

    async def _follow_up(self, created: Relay, op: RelayOp, key: str, content: str) -> Verdict:
        request = RelayRequest(
            blog=created.blog,
            op=op,
            dedupe_key=key,
            message_id=created.message_id,
            channel_id=created.channel_id,
            user_id=created.user_id,
            author_name=created.author_name,
            account=created.account,
            post_key=created.post_key,
            content=content,
        )
        row, _ = await self._storage.record_relay(request)
        self._wake(created.blog)
        return Verdict("accepted", relay_id=row.id)

    async def _relayed(self, message_id: int) -> tuple[Relay | None, BlogConfig | None]:
        created = await self._storage.relay_of_message(message_id)
        if created is None or created.status == "failed":
            return None, None
        return created, self._blogs.get(created.blog)

    async def catch_up_from(self, threads: Callable[[int], int | None]) -> list[tuple[int, int]]:
        """Where to read what was written while the bot was offline: ``(thread, after message)``
        for each post thread of a relayed blog whose newest message (``threads(thread_id)``, from
        Discord's cache; None when unknown or archived) is newer than its cursor.

        Threads from before cursors existed get one at their newest message: what was written
        there before is not relayed.
        """
        found: list[tuple[int, int]] = []
        cursors = await self._storage.relay_cursors(self._blogs)
        for thread_id, cursor in cursors.items():
            newest = threads(thread_id)
            if newest is None or (cursor is not None and newest <= cursor):
                continue
            if cursor is None:
                post = await self._storage.thread_post(thread_id)
                if post is not None:
                    await self._storage.advance_cursor(post.blog, thread_id, newest)
                continue
            found.append((thread_id, cursor))
        return found


DISCORD_EPOCH_MS: Final = 1_420_070_400_000


def snowflake_at(moment: datetime) -> int:
    """The smallest Discord id of anything created at ``moment`` (ids start with a time)."""
    return max(int(moment.timestamp() * 1000) - DISCORD_EPOCH_MS, 0) << 22


def _content(blog: BlogConfig, message: ChatMessage) -> str:
    convert = to_isso_markdown if blog.platform == "isso" else to_wordpress_html
    return convert(message.content, names=message.names, attachments=message.attachments)
