"""Alembic migrations, applied by :func:`bot.storage.migrate.upgrade` when storage opens."""
