"""The relay outbox: Discord messages on their way to the blog as comments (no discord import).

A row is recorded when a message (or its edit, or its deletion) is accepted, *before* any call
to the blog, and completed after: ``queued`` → ``sending`` (a call is in flight, or was when the
process died: its outcome is unknown until reconciled) → ``published`` / ``held`` / ``failed``
(``done`` / ``deleted`` for edits and deletions). ``feedback`` is the status last shown in
Discord, so a crash between the outcome and its reaction only repeats the (idempotent) reaction.

:class:`RelayStore` is mixed into :class:`bot.storage.Storage`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy import Row

from bot.storage.mirror import MirroredMessage, PostThread
from bot.storage.schema import discord_messages, post_threads, relay_cursors, relays

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

RelayOp = Literal["create", "edit", "delete"]
RelayStatus = Literal["queued", "sending", "published", "held", "failed", "done", "deleted"]
EchoVerdict = Literal["ours", "wait", "theirs"]

#: Statuses of a row the relay still has to work on, in id order per blog.
OPEN_STATUSES = ("queued", "sending")
#: Statuses whose outcome is shown in Discord (a reaction, a reply).
SHOWN_STATUSES = ("published", "held", "failed")


@dataclass(frozen=True, slots=True)
class RelayRequest:
    """A Discord message (``op="create"``), its edit or its deletion, accepted for the blog.

    ``dedupe_key`` makes recording idempotent (a gateway replay records nothing new);
    ``account`` is the linked blog account's login, ``None`` for a guest; ``reply_to`` is the
    Discord message it answers (resolved to a blog comment when it is sent); ``content`` is
    already in the blog's format.
    """

    blog: str
    op: RelayOp
    dedupe_key: str
    message_id: int
    channel_id: int
    user_id: int
    author_name: str
    account: str | None
    post_key: str
    content: str
    reply_to: int | None = None


@dataclass(frozen=True, slots=True)
class Relay:
    """One row of the relay outbox."""

    id: int
    blog: str
    op: RelayOp
    dedupe_key: str
    message_id: int
    channel_id: int
    user_id: int
    author_name: str
    account: str | None
    post_key: str
    reply_to: int | None
    content: str
    status: RelayStatus
    comment_id: str | None
    entry_key: str | None
    link: str | None
    edit_token: str | None = dataclasses.field(repr=False)
    attempts: int
    next_attempt_at: datetime | None
    error: str | None
    reason: str | None
    feedback: str | None
    created_at: datetime
    updated_at: datetime


def _relay(row: Row[Any]) -> Relay:
    return Relay(**row._mapping)


class RelayStore:
    """The relay's queries of :class:`bot.storage.Storage` (see the module docstring)."""

    if TYPE_CHECKING:
        _clock: Callable[[], datetime]

        def _reading(
            self, action: str
        ) -> contextlib.AbstractAsyncContextManager[AsyncConnection]: ...

        def _writing(
            self, action: str
        ) -> contextlib.AbstractAsyncContextManager[AsyncConnection]: ...

        def _insert_if_new(self, table: sa.Table, keys: Sequence[str]) -> sa.Insert: ...

    async def record_relay(self, request: RelayRequest) -> tuple[Relay, bool]:
        """Record ``request`` unless its ``dedupe_key`` already is; returns the row and whether
        it is new."""
        now = self._clock()
        values = {**dataclasses.asdict(request), "created_at": now, "updated_at": now}
        insert = self._insert_if_new(relays, ("dedupe_key",)).returning(relays.c.id)
        where = relays.c.dedupe_key == request.dedupe_key
        async with self._writing(f"record relay {request.dedupe_key}") as connection:
            created = (await connection.execute(insert, [values])).first() is not None
            row = (await connection.execute(sa.select(relays).where(where))).one()
        return _relay(row), created

    async def update_relay(self, relay_id: int, **changes: Any) -> Relay:
        """Change columns of one row (``updated_at`` follows); returns the row as it now is."""
        query = (
            sa.update(relays)
            .where(relays.c.id == relay_id)
            .values(**changes, updated_at=self._clock())
        )
        async with self._writing(f"update relay {relay_id}") as connection:
            await connection.execute(query)
            row = (await connection.execute(sa.select(relays).where(relays.c.id == relay_id))).one()
        return _relay(row)

    async def get_relay(self, relay_id: int) -> Relay | None:
        return await self._one(sa.select(relays).where(relays.c.id == relay_id), "read a relay")

    async def next_relay(self, blog: str) -> Relay | None:
        """The oldest row of ``blog`` still to be worked on (the lane goes strictly in order)."""
        query = (
            sa.select(relays)
            .where(relays.c.blog == blog, relays.c.status.in_(OPEN_STATUSES))
            .order_by(relays.c.id)
            .limit(1)
        )
        return await self._one(query, f"read the next relay of {blog!r}")

    async def relay_of_message(self, message_id: int) -> Relay | None:
        """The ``create`` row of a Discord message, if it was accepted."""
        query = sa.select(relays).where(relays.c.message_id == message_id, relays.c.op == "create")
        return await self._one(query, f"read the relay of message {message_id}")

    async def latest_relay_content(self, message_id: int) -> str | None:
        """The text last relayed (or queued) for a message: its newest create or edit."""
        query = (
            sa.select(relays.c.content)
            .where(relays.c.message_id == message_id, relays.c.op.in_(("create", "edit")))
            .order_by(relays.c.id.desc())
            .limit(1)
        )
        async with self._reading(f"read the text relayed for message {message_id}") as connection:
            return (await connection.execute(query)).scalar_one_or_none()

    async def relays_to_show(self, blog: str) -> list[Relay]:
        """Rows whose outcome is not (yet) shown in Discord, oldest first."""
        query = (
            sa.select(relays)
            .where(
                relays.c.blog == blog,
                relays.c.status.in_(SHOWN_STATUSES),
                relays.c.feedback.is_distinct_from(relays.c.status),
            )
            .order_by(relays.c.id)
        )
        return await self._all(query, f"read the relays of {blog!r} to show")

    async def held_relays(self, blog: str) -> list[Relay]:
        query = (
            sa.select(relays)
            .where(relays.c.blog == blog, relays.c.status == "held", relays.c.op == "create")
            .order_by(relays.c.id)
        )
        return await self._all(query, f"read the held relays of {blog!r}")

    async def open_relay_counts(self) -> dict[str, int]:
        """Rows still to be worked on, per blog (blogs with none are absent)."""
        query = (
            sa.select(relays.c.blog, sa.func.count())
            .where(relays.c.status.in_(OPEN_STATUSES))
            .group_by(relays.c.blog)
        )
        async with self._reading("count open relays") as connection:
            return {blog: int(count) for blog, count in await connection.execute(query)}

    async def relays_between(self, user_id: int, first_message: int, last_message: int) -> int:
        """How many messages of ``user_id`` with ids in ``[first_message, last_message)`` were
        accepted. Discord ids grow with time, so this counts by when the messages were written,
        not when the relay saw them (which matters when it catches up after being offline)."""
        query = (
            sa.select(sa.func.count())
            .select_from(relays)
            .where(
                relays.c.user_id == user_id,
                relays.c.op == "create",
                relays.c.message_id >= first_message,
                relays.c.message_id < last_message,
            )
        )
        async with self._reading(f"count the relays of user {user_id}") as connection:
            return int((await connection.execute(query)).scalar_one())

    async def owned_comments(self, blog: str, comment_ids: Iterable[str]) -> set[str]:
        """Which of these blog comments are already the outcome of a relay."""
        wanted = list(comment_ids)
        if not wanted:
            return set()
        query = sa.select(relays.c.comment_id).where(
            relays.c.blog == blog, relays.c.op == "create", relays.c.comment_id.in_(wanted)
        )
        async with self._reading(f"read relayed comments of {blog!r}") as connection:
            return {str(value) for value in (await connection.execute(query)).scalars()}

    async def echo_verdict(
        self, blog: str, entry_key: str, post_key: str | None = None
    ) -> EchoVerdict:
        """Is this blog entry one of our relays (``ours``: do not mirror it back), possibly so
        (``wait``: a relay to that post — any post when ``post_key`` is None — may have created
        a comment whose id is not known yet: one in flight, or one whose call got no answer),
        or not (``theirs``)?"""
        ours = sa.select(relays.c.id).where(
            relays.c.blog == blog, relays.c.entry_key == entry_key, relays.c.op == "create"
        )
        unresolved = sa.select(relays.c.id).where(
            relays.c.blog == blog, relays.c.op == "create", relays.c.status == "sending"
        )
        if post_key is not None:
            unresolved = unresolved.where(relays.c.post_key == post_key)
        async with self._reading(f"check whether {entry_key!r} is relayed") as connection:
            if (await connection.execute(ours.limit(1))).first() is not None:
                return "ours"
            if (await connection.execute(unresolved.limit(1))).first() is not None:
                return "wait"
        return "theirs"

    async def relayed_entry(self, blog: str, entry_key: str) -> Relay | None:
        """The relay that created blog entry ``entry_key`` (its Discord message shows it)."""
        query = sa.select(relays).where(
            relays.c.blog == blog, relays.c.entry_key == entry_key, relays.c.op == "create"
        )
        return await self._one(query.limit(1), f"read the relay of {entry_key!r}")

    # Read cursors: the newest message looked at in each post thread

    async def advance_cursor(self, blog: str, thread_id: int, message_id: int) -> None:
        """Remember ``message_id`` as looked at in ``thread_id`` (cursors never move back)."""
        now = self._clock()
        where = relay_cursors.c.thread_id == thread_id
        async with self._writing(f"advance the relay cursor of thread {thread_id}") as connection:
            moved = await connection.execute(
                sa.update(relay_cursors)
                .where(where, relay_cursors.c.message_id < message_id)
                .values(message_id=message_id, updated_at=now)
            )
            if moved.rowcount:
                return
            insert = self._insert_if_new(relay_cursors, ("thread_id",))
            values = {"thread_id": thread_id, "blog": blog, "message_id": message_id}
            await connection.execute(insert, [{**values, "updated_at": now}])

    async def relay_cursors(self, blogs: Iterable[str]) -> dict[int, int | None]:
        """Every post thread of ``blogs`` → the newest message looked at there (None: never)."""
        query = (
            sa.select(post_threads.c.thread_id, relay_cursors.c.message_id)
            .select_from(
                post_threads.outerjoin(
                    relay_cursors, relay_cursors.c.thread_id == post_threads.c.thread_id
                )
            )
            .where(post_threads.c.blog.in_(list(blogs)))
            .order_by(post_threads.c.thread_id)
        )
        async with self._reading("read the relay cursors") as connection:
            return {int(thread): cursor for thread, cursor in await connection.execute(query)}

    # The Discord side, as the relay needs it

    async def thread_post(self, thread_id: int) -> PostThread | None:
        """The post whose comments go to Discord thread ``thread_id``."""
        query = sa.select(post_threads).where(post_threads.c.thread_id == thread_id).limit(1)
        async with self._reading(f"read the post of thread {thread_id}") as connection:
            row = (await connection.execute(query)).first()
        return PostThread(**row._mapping) if row is not None else None

    async def mirrored_message(self, message_id: int) -> MirroredMessage | None:
        """Our sent message ``message_id`` (a mirrored comment, an announcement...), if any."""
        query = (
            sa.select(discord_messages)
            .where(discord_messages.c.message_id == message_id)
            .order_by(discord_messages.c.id)
            .limit(1)
        )
        async with self._reading(f"read mirrored message {message_id}") as connection:
            row = (await connection.execute(query)).first()
        return MirroredMessage(**row._mapping) if row is not None else None

    # Plumbing

    async def _one(self, query: sa.Select[Any], action: str) -> Relay | None:
        async with self._reading(action) as connection:
            row = (await connection.execute(query)).first()
        return _relay(row) if row is not None else None

    async def _all(self, query: sa.Select[Any], action: str) -> list[Relay]:
        async with self._reading(action) as connection:
            return [_relay(row) for row in await connection.execute(query)]


__all__ = [
    "OPEN_STATUSES",
    "EchoVerdict",
    "Relay",
    "RelayOp",
    "RelayRequest",
    "RelayStatus",
    "RelayStore",
]
