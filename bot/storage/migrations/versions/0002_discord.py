"""Discord side: post threads, the message intent log, webhooks, disabled targets.

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in bot/storage/schema.py as of this revision.
UTC_DATETIME = sa.DateTime(timezone=True)
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_index("ix_events_blog_delivered_at_id", "events", ["blog", "delivered_at", "id"])

    op.create_table(
        "post_threads",
        sa.Column("blog", sa.Text(), nullable=False),
        sa.Column("post_key", sa.Text(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("announcement_message_id", sa.BigInteger(), nullable=True),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("is_forum", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("blog", "post_key", name="pk_post_threads"),
    )

    op.create_table(
        "discord_messages",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", ROW_ID, nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("blog", sa.Text(), nullable=False),
        sa.Column("entry_key", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("nonce", sa.Text(), nullable=False),
        sa.Column("marker", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("via_webhook", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_discord_messages"),
        sa.UniqueConstraint("event_id", "part", name="uq_discord_messages_event_id_part"),
        sa.UniqueConstraint("nonce", name="uq_discord_messages_nonce"),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed', 'deleted')",
            name="ck_discord_messages_status",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_discord_messages_blog_entry_key", "discord_messages", ["blog", "entry_key"])
    op.create_index(
        "ix_discord_messages_thread_id_message_id", "discord_messages", ["thread_id", "message_id"]
    )

    op.create_table(
        "webhooks",
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("webhook_id", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", name="pk_webhooks"),
    )

    op.create_table(
        "disabled_targets",
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("blog", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("channel_id", name="pk_disabled_targets"),
    )
    op.create_index("ix_disabled_targets_blog", "disabled_targets", ["blog"])


def downgrade() -> None:
    op.drop_index("ix_disabled_targets_blog", table_name="disabled_targets")
    op.drop_table("disabled_targets")
    op.drop_table("webhooks")
    op.drop_index("ix_discord_messages_thread_id_message_id", table_name="discord_messages")
    op.drop_index("ix_discord_messages_blog_entry_key", table_name="discord_messages")
    op.drop_table("discord_messages")
    op.drop_table("post_threads")
    op.drop_index("ix_events_blog_delivered_at_id", table_name="events")
