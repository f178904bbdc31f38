"""What we mirrored to Discord: post threads, the message intent log, webhooks, disabled targets.

The announcer records a message's *intent* (status ``pending``) before every Discord call that
creates a message, and its Discord id after (``sent``); a pending row found later means the
outcome is unknown and must be reconciled, never blindly repeated. ``failed`` means Discord
refused it (nothing was created), ``deleted`` that it was taken down again. The same rows map
comments to their messages, which edits, removals, replies and the relay back to the blog use.

:class:`MirrorStore` is mixed into :class:`bot.storage.Storage`; it has no discord import.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy import Row
from sqlalchemy.dialects import postgresql, sqlite

from bot.events import Event
from bot.feeds.models import EntryKind
from bot.storage import rows
from bot.storage.records import KnownItem
from bot.storage.schema import (
    disabled_targets,
    discord_messages,
    events,
    items,
    post_threads,
    relay_cursors,
    webhooks,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

MessageStatus = Literal["pending", "sent", "failed", "deleted"]

#: Entry kinds whose messages live in a post's thread.
COMMENT_KINDS = (EntryKind.COMMENT.value, EntryKind.PINGBACK.value, EntryKind.TRACKBACK.value)


@dataclass(frozen=True, slots=True)
class MessageIntent:
    """A message about to be created on Discord, identified by ``(event_id, part)``.

    ``channel_id`` is the channel (a thread's parent), ``thread_id`` the thread it goes into
    (``None`` for a message straight in the channel). ``marker`` is the text that finds the
    message again when the outcome of a send without a nonce is unknown; ``author`` is the
    name it appears under (shown by replies to it).
    """

    event_id: int
    part: int
    blog: str
    entry_key: str
    kind: str
    channel_id: int
    thread_id: int | None
    nonce: str
    via_webhook: bool = False
    marker: str | None = None
    author: str | None = None


@dataclass(frozen=True, slots=True)
class MirroredMessage:
    """One row of the intent log: a message we meant to create, and what became of it."""

    id: int
    event_id: int
    part: int
    blog: str
    entry_key: str
    kind: str
    channel_id: int
    thread_id: int | None
    nonce: str
    marker: str | None
    author: str | None
    message_id: int | None
    via_webhook: bool
    status: MessageStatus
    error: str | None
    created_at: datetime
    sent_at: datetime | None

    @property
    def location(self) -> int:
        """The channel the message is in: its thread, else its channel."""
        return self.thread_id if self.thread_id is not None else self.channel_id


@dataclass(frozen=True, slots=True)
class PostThread:
    """Where a post's comments go: the thread on its announcement, or its forum post."""

    blog: str
    post_key: str
    channel_id: int
    thread_id: int
    announcement_message_id: int | None = None
    is_forum: bool = False
    created_at: datetime | None = None  # set by storage


@dataclass(frozen=True, slots=True)
class Webhook:
    """The webhook the bot made in a channel. ``token`` is a credential: never log it."""

    channel_id: int
    webhook_id: int
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class DisabledTarget:
    """A channel Discord refused us (permission, unknown channel) until an operator acts."""

    channel_id: int
    blog: str
    reason: str
    since: datetime


def _message_from_row(row: Row[Any]) -> MirroredMessage:
    return MirroredMessage(**row._mapping)


def _post_thread_from_row(row: Row[Any]) -> PostThread:
    return PostThread(**row._mapping)


def _disabled_from_row(row: Row[Any]) -> DisabledTarget:
    return DisabledTarget(**row._mapping)


class MirrorStore:
    """The Discord-side queries of :class:`bot.storage.Storage` (see the module docstring)."""

    if TYPE_CHECKING:
        _clock: Callable[[], datetime]
        _dialect: str

        def _reading(
            self, action: str
        ) -> contextlib.AbstractAsyncContextManager[AsyncConnection]: ...

        def _writing(
            self, action: str
        ) -> contextlib.AbstractAsyncContextManager[AsyncConnection]: ...

        def _upsert(
            self, table: sa.Table, keys: Sequence[str], *, keep: Sequence[str] = ()
        ) -> sa.Insert: ...

    # The intent log

    async def record_intent(self, intent: MessageIntent) -> tuple[MirroredMessage, bool]:
        """Record ``intent`` unless ``(event_id, part)`` already is; returns the row and whether
        it is new. An existing row keeps its status: ``sent`` means done, ``pending`` unknown."""
        values = {
            **dataclasses.asdict(intent),
            "status": "pending",
            "created_at": self._clock(),
        }
        insert = self._insert_if_new(discord_messages, ("event_id", "part"))
        insert = insert.returning(discord_messages.c.id)
        where = (discord_messages.c.event_id == intent.event_id) & (
            discord_messages.c.part == intent.part
        )
        action = f"record the intent of event {intent.event_id} part {intent.part}"
        async with self._writing(action) as connection:
            created = (await connection.execute(insert, [values])).first() is not None
            row = (await connection.execute(sa.select(discord_messages).where(where))).one()
        return _message_from_row(row), created

    async def mark_sent(
        self, row_id: int, message_id: int, *, via_webhook: bool, thread_id: int | None = None
    ) -> None:
        """The message of intent ``row_id`` exists on Discord; ``thread_id`` if it made one."""
        values: dict[str, Any] = {
            "status": "sent",
            "message_id": message_id,
            "via_webhook": via_webhook,
            "error": None,
            "sent_at": self._clock(),
        }
        if thread_id is not None:
            values["thread_id"] = thread_id
        await self._update_message(row_id, values, "record a sent message")

    async def mark_failed(self, row_id: int, error: str) -> None:
        """Discord refused intent ``row_id``: nothing was created, so sending again is safe."""
        query = (
            sa.update(discord_messages)
            .where(discord_messages.c.id == row_id, discord_messages.c.status == "pending")
            .values(status="failed", error=error)
        )
        async with self._writing(f"record failed message {row_id}") as connection:
            await connection.execute(query)

    async def note_error(self, row_id: int, error: str) -> None:
        """Remember why intent ``row_id`` is still unresolved (its status stays as it is)."""
        await self._update_message(row_id, {"error": error}, "record a message error")

    async def mark_deleted(self, row_id: int) -> None:
        """The message of ``row_id`` is gone from Discord (we deleted it, or someone did)."""
        await self._update_message(row_id, {"status": "deleted"}, "record a deleted message")

    async def message_intents(self, event_id: int) -> list[MirroredMessage]:
        """Every row recorded for one event, by part."""
        query = (
            sa.select(discord_messages)
            .where(discord_messages.c.event_id == event_id)
            .order_by(discord_messages.c.part)
        )
        async with self._reading(f"read messages of event {event_id}") as connection:
            return [_message_from_row(row) for row in await connection.execute(query)]

    async def sent_messages_for(self, blog: str, entry_key: str) -> list[MirroredMessage]:
        """The live messages that show an entry, by part (what to edit, delete or reply to)."""
        query = (
            sa.select(discord_messages)
            .where(
                discord_messages.c.blog == blog,
                discord_messages.c.entry_key == entry_key,
                discord_messages.c.status == "sent",
            )
            .order_by(discord_messages.c.part, discord_messages.c.id)
        )
        async with self._reading(f"read messages of {blog!r} {entry_key!r}") as connection:
            return [_message_from_row(row) for row in await connection.execute(query)]

    async def last_sent_in_thread(self, thread_id: int) -> int | None:
        """The newest message id we know we created in a thread (deleted ones included)."""
        query = sa.select(sa.func.max(discord_messages.c.message_id)).where(
            discord_messages.c.thread_id == thread_id
        )
        async with self._reading(f"read the last message in thread {thread_id}") as connection:
            value = (await connection.execute(query)).scalar_one_or_none()
        return int(value) if value is not None else None

    # Post threads

    async def post_thread(self, blog: str, post_key: str) -> PostThread | None:
        query = sa.select(post_threads).where(
            post_threads.c.blog == blog, post_threads.c.post_key == post_key
        )
        async with self._reading(f"read the thread of {blog!r} {post_key!r}") as connection:
            row = (await connection.execute(query)).first()
        return _post_thread_from_row(row) if row is not None else None

    async def save_post_thread(self, thread: PostThread) -> None:
        """Insert or replace; the first ``created_at`` stays.

        A new thread also gets a relay cursor at its start, so that whatever people write there
        while the bot is offline is caught up later (see :mod:`bot.storage.relays`).
        """
        now = self._clock()
        values = {**dataclasses.asdict(thread), "created_at": now}
        upsert = self._upsert(post_threads, ("blog", "post_key"), keep=("created_at",))
        cursor = {
            "thread_id": thread.thread_id,
            "blog": thread.blog,
            "message_id": thread.thread_id,
            "updated_at": now,
        }
        async with self._writing(f"save the thread of {thread.post_key!r}") as connection:
            await connection.execute(upsert, [values])
            await connection.execute(self._insert_if_new(relay_cursors, ("thread_id",)), [cursor])

    # Webhooks

    async def get_webhook(self, channel_id: int) -> Webhook | None:
        query = sa.select(webhooks).where(webhooks.c.channel_id == channel_id)
        async with self._reading(f"read the webhook of channel {channel_id}") as connection:
            row = (await connection.execute(query)).first()
        return Webhook(**row._mapping) if row is not None else None

    async def save_webhook(self, webhook: Webhook) -> None:
        values = dataclasses.asdict(webhook)
        upsert = self._upsert(webhooks, ("channel_id",))
        async with self._writing(f"save the webhook of channel {webhook.channel_id}") as connection:
            await connection.execute(upsert, [values])

    async def delete_webhook(self, channel_id: int) -> None:
        query = sa.delete(webhooks).where(webhooks.c.channel_id == channel_id)
        async with self._writing(f"delete the webhook of channel {channel_id}") as connection:
            await connection.execute(query)

    # Disabled targets

    async def disable_target(self, channel_id: int, blog: str, reason: str) -> bool:
        """Record that ``channel_id`` refuses us; True if it was not disabled yet.

        A channel disabled again keeps its first ``since`` and takes the new reason.
        """
        where = disabled_targets.c.channel_id == channel_id
        async with self._writing(f"disable channel {channel_id}") as connection:
            found = await connection.execute(sa.select(disabled_targets.c.since).where(where))
            if found.first() is not None:
                update = sa.update(disabled_targets).where(where)
                await connection.execute(update.values(reason=reason, blog=blog))
                return False
            values = {"channel_id": channel_id, "blog": blog, "reason": reason}
            await connection.execute(
                sa.insert(disabled_targets), [{**values, "since": self._clock()}]
            )
            return True

    async def enable_targets(self, blog: str) -> list[DisabledTarget]:
        """Forget the disabled targets of ``blog``; returns those that were."""
        where = disabled_targets.c.blog == blog
        async with self._writing(f"enable the channels of blog {blog!r}") as connection:
            result = await connection.execute(sa.select(disabled_targets).where(where))
            removed = [_disabled_from_row(row) for row in result]
            await connection.execute(sa.delete(disabled_targets).where(where))
        return removed

    async def disabled_targets(self, blog: str | None = None) -> list[DisabledTarget]:
        query = sa.select(disabled_targets).order_by(disabled_targets.c.channel_id)
        if blog is not None:
            query = query.where(disabled_targets.c.blog == blog)
        async with self._reading("read disabled channels") as connection:
            return [_disabled_from_row(row) for row in await connection.execute(query)]

    # The outbox, per blog

    async def pending_counts(self) -> dict[str, int]:
        """Undelivered events per blog (blogs with none are absent)."""
        query = (
            sa.select(events.c.blog, sa.func.count())
            .where(events.c.delivered_at.is_(None))
            .group_by(events.c.blog)
        )
        async with self._reading("count pending events") as connection:
            return {blog: int(count) for blog, count in await connection.execute(query)}

    async def enqueue_events(self, new_events: Sequence[Event]) -> list[int]:
        """Append events to the outbox, all or none; returns their ids in order."""
        if not new_events:
            return []
        now = self._clock()
        values = [rows.event_row(event, now) for event in new_events]
        insert = sa.insert(events).returning(events.c.id, sort_by_parameter_order=True)
        async with self._writing("enqueue events") as connection:
            return list((await connection.execute(insert, values)).scalars())

    async def comments_without_message(self, blog: str) -> list[KnownItem]:
        """Visible comments (and ping/trackbacks) of posts that have a thread, without any sent
        or pending message: the gaps a resync fills. Oldest first."""
        mirrored = sa.select(post_threads.c.post_key).where(post_threads.c.blog == blog)
        shown = sa.select(discord_messages.c.id).where(
            discord_messages.c.blog == items.c.blog,
            discord_messages.c.entry_key == items.c.key,
            discord_messages.c.status.in_(("pending", "sent")),
        )
        query = (
            sa.select(items)
            .where(
                items.c.blog == blog,
                items.c.kind.in_(COMMENT_KINDS),
                ~items.c.removed,
                items.c.post_key.in_(mirrored),
                ~sa.exists(shown),
            )
            .order_by(items.c.published.nulls_last(), items.c.first_seen_at, items.c.key)
        )
        async with self._reading(f"find unmirrored comments of blog {blog!r}") as connection:
            return [rows.known_item_from_row(row) for row in await connection.execute(query)]

    # Plumbing

    async def _update_message(self, row_id: int, values: dict[str, Any], action: str) -> None:
        query = sa.update(discord_messages).where(discord_messages.c.id == row_id).values(values)
        async with self._writing(f"{action} ({row_id})") as connection:
            await connection.execute(query)

    def _insert_if_new(self, table: sa.Table, keys: Sequence[str]) -> sa.Insert:
        """INSERT ... ON CONFLICT (keys) DO NOTHING; other unique violations still raise."""
        if self._dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))


__all__ = [
    "DisabledTarget",
    "MessageIntent",
    "MessageStatus",
    "MirrorStore",
    "MirroredMessage",
    "PostThread",
    "Webhook",
]
