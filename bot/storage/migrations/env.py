"""Alembic environment for Gatejumper.

The bot runs migrations itself (:func:`bot.storage.migrate.upgrade`) and hands over its open
connection in ``config.attributes["connection"]``. From the command line, give the database
with ``-x url=...`` (see ``alembic.ini`` next to this file).
"""

from __future__ import annotations

import asyncio
import logging.config

from alembic import context
from sqlalchemy.engine import Connection

from bot.storage.engine import create_engine, normalise_url
from bot.storage.schema import metadata

config = context.config


def run_on(connection: Connection) -> None:
    """Migrate on a live connection; batch mode lets SQLite alter tables by copying them."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def command_line_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database: alembic -c ... -x url=sqlite:///path.db <command>")
    return url


async def run_on_url(url: str) -> None:
    engine = create_engine(normalise_url(url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    if config.config_file_name is not None:
        logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)
    url = command_line_url()
    if context.is_offline_mode():
        context.configure(url=normalise_url(url), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_on_url(url))


main()
