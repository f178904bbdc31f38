"""The tables, as SQLAlchemy Core objects; the migrations in ``migrations/versions`` must agree.

``feeds`` mirrors :class:`bot.storage.records.FeedState`, ``items`` remembers every entry seen
(for dedup, edit and removal detection), ``events`` is the outbox delivered in ``id`` order.
The Discord side (see :mod:`bot.storage.mirror`): ``post_threads`` maps posts to threads,
``discord_messages`` is the intent log and comment ↔ message map, ``webhooks`` and
``disabled_targets`` remember per-channel state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on both backends.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so we store naive UTC there and
    put the zone back on the way out. Naive datetimes are refused: their zone is a guess.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:  # the common case, first: this runs for every stored time
            return value.replace(tzinfo=None) if dialect.name == "sqlite" else value
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} (give a time zone)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: JSON on SQLite (stored as text), JSONB on PostgreSQL.
JSONType: sa.types.TypeEngine[Any] = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

#: Event ids: BIGINT on PostgreSQL; plain INTEGER on SQLite so the column aliases the rowid.
EventId: sa.types.TypeEngine[int] = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

feeds = sa.Table(
    "feeds",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("blog", sa.Text, nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("post_key", sa.Text),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("body_hash", sa.Text),
    sa.Column("next_poll_at", UTCDateTime),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("failing_since", UTCDateTime),
    sa.Column("last_polled_at", UTCDateTime),
    sa.Column("last_success_at", UTCDateTime),
    sa.Column("synced_at", UTCDateTime),
    sa.Column("emit_on_first_poll", sa.Boolean, nullable=False, server_default=sa.false()),
)

items = sa.Table(
    "items",
    metadata,
    sa.Column("blog", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("post_key", sa.Text),
    sa.Column("parent_key", sa.Text),
    sa.Column("native_id", sa.Text),
    sa.Column("url", sa.Text),
    sa.Column("published", UTCDateTime),
    sa.Column("content_hash", sa.Text, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("entry", JSONType, nullable=False),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(None, "blog", "kind", "published"),
    sa.Index(None, "blog", "post_key"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", EventId, primary_key=True, autoincrement=True),
    sa.Column("blog", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Index(None, "delivered_at", "id"),
    sa.Index(None, "blog", "delivered_at", "id"),
    sqlite_autoincrement=True,
)

# Discord ------------------------------------------------------------------------------
# Discord ids (snowflakes) fit a signed 64-bit integer until the 2080s.

post_threads = sa.Table(
    "post_threads",
    metadata,
    sa.Column("blog", sa.Text, primary_key=True),
    sa.Column("post_key", sa.Text, primary_key=True),
    sa.Column("channel_id", sa.BigInteger, nullable=False),
    sa.Column("announcement_message_id", sa.BigInteger),
    sa.Column("thread_id", sa.BigInteger, nullable=False),
    sa.Column("is_forum", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

#: What ``discord_messages.status`` may hold.
MESSAGE_STATUSES = ("pending", "sent", "failed", "deleted")

discord_messages = sa.Table(
    "discord_messages",
    metadata,
    sa.Column("id", EventId, primary_key=True, autoincrement=True),
    sa.Column("event_id", EventId, nullable=False),
    sa.Column("part", sa.Integer, nullable=False),
    sa.Column("blog", sa.Text, nullable=False),
    sa.Column("entry_key", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("channel_id", sa.BigInteger, nullable=False),
    sa.Column("thread_id", sa.BigInteger),
    sa.Column("nonce", sa.Text, nullable=False),
    sa.Column("marker", sa.Text),
    sa.Column("author", sa.Text),
    sa.Column("message_id", sa.BigInteger),
    sa.Column("via_webhook", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.UniqueConstraint("event_id", "part"),
    sa.UniqueConstraint("nonce"),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed', 'deleted')", name="status"),
    sa.Index(None, "blog", "entry_key"),
    sa.Index(None, "thread_id", "message_id"),
    sqlite_autoincrement=True,
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("channel_id", sa.BigInteger, primary_key=True),
    sa.Column("webhook_id", sa.BigInteger, nullable=False),
    sa.Column("token", sa.Text, nullable=False),
)

disabled_targets = sa.Table(
    "disabled_targets",
    metadata,
    sa.Column("channel_id", sa.BigInteger, primary_key=True),
    sa.Column("blog", sa.Text, nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("since", UTCDateTime, nullable=False),
)

# The relay (Discord → blog) ---------------------------------------------------------------

#: What ``relays.status`` may hold: ``queued`` (recorded, not tried), ``sending`` (a call was made
#: whose outcome is unknown: reconcile before trying again), ``published``, ``held`` (waiting for
#: the blog's moderation), ``failed`` (permanently; ``reason`` says why), ``done`` (an edit or a
#: delete that took effect, or had nothing left to do), ``deleted`` (the comment was trashed).
RELAY_STATUSES = ("queued", "sending", "published", "held", "failed", "done", "deleted")

relays = sa.Table(
    "relays",
    metadata,
    sa.Column("id", EventId, primary_key=True, autoincrement=True),
    sa.Column("blog", sa.Text, nullable=False),
    sa.Column("op", sa.Text, nullable=False),
    sa.Column("dedupe_key", sa.Text, nullable=False),
    sa.Column("message_id", sa.BigInteger, nullable=False),
    sa.Column("channel_id", sa.BigInteger, nullable=False),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("author_name", sa.Text, nullable=False),
    sa.Column("account", sa.Text),
    sa.Column("post_key", sa.Text, nullable=False),
    sa.Column("reply_to", sa.BigInteger),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="queued"),
    sa.Column("comment_id", sa.Text),
    sa.Column("entry_key", sa.Text),
    sa.Column("link", sa.Text),
    sa.Column("edit_token", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("error", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("feedback", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("dedupe_key"),
    sa.CheckConstraint("op IN ('create', 'edit', 'delete')", name="op"),
    sa.CheckConstraint(
        "status IN ('queued', 'sending', 'published', 'held', 'failed', 'done', 'deleted')",
        name="status",
    ),
    sa.Index(None, "blog", "status", "id"),
    sa.Index(None, "blog", "entry_key"),
    sa.Index(None, "message_id"),
    sqlite_autoincrement=True,
)

#: The newest message the relay has looked at in each post thread, so that messages written while
#: the bot was offline are caught up at the next start (and older ones never relayed).
relay_cursors = sa.Table(
    "relay_cursors",
    metadata,
    sa.Column("thread_id", sa.BigInteger, primary_key=True),
    sa.Column("blog", sa.Text, nullable=False),
    sa.Column("message_id", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
