"""Bring the schema up to date when storage opens, with Alembic driven from code.

No ``alembic.ini`` is needed at run time: the script location is this package's
``migrations`` directory, found next to this file (so it also works when installed).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.engine import write_transaction

MIGRATIONS = Path(__file__).with_name("migrations")

#: Arbitrary constant: PostgreSQL advisory lock taken while migrating, so that two bots
#: starting at once against one database do not both try to create the tables.
_PG_MIGRATION_LOCK = 0x6A756D70


def alembic_config() -> Config:
    """An Alembic config pointing at our migrations, without reading any ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    """The newest revision in ``migrations/versions``."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine) -> None:
    """Apply every pending migration in one transaction (DDL is transactional on both backends)."""
    async with write_transaction(engine) as connection:
        await connection.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
