"""The relay outbox (Discord messages on their way to the blog) and the relay's read cursors.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in bot/storage/schema.py as of this revision.
UTC_DATETIME = sa.DateTime(timezone=True)
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "relays",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("blog", sa.Text(), nullable=False),
        sa.Column("op", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.Text(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("author_name", sa.Text(), nullable=False),
        sa.Column("account", sa.Text(), nullable=True),
        sa.Column("post_key", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.BigInteger(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="queued", nullable=False),
        sa.Column("comment_id", sa.Text(), nullable=True),
        sa.Column("entry_key", sa.Text(), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("edit_token", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_relays"),
        sa.UniqueConstraint("dedupe_key", name="uq_relays_dedupe_key"),
        sa.CheckConstraint("op IN ('create', 'edit', 'delete')", name="ck_relays_op"),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'published', 'held', 'failed', 'done', 'deleted')",
            name="ck_relays_status",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_relays_blog_status_id", "relays", ["blog", "status", "id"])
    op.create_index("ix_relays_blog_entry_key", "relays", ["blog", "entry_key"])
    op.create_index("ix_relays_message_id", "relays", ["message_id"])

    op.create_table(
        "relay_cursors",
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("blog", sa.Text(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("thread_id", name="pk_relay_cursors"),
    )


def downgrade() -> None:
    op.drop_table("relay_cursors")
    op.drop_index("ix_relays_message_id", table_name="relays")
    op.drop_index("ix_relays_blog_entry_key", table_name="relays")
    op.drop_index("ix_relays_blog_status_id", table_name="relays")
    op.drop_table("relays")
