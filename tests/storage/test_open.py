"""Opening the database: URL forms, clear errors, migrations at start, SQLite settings."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from bot.storage import Storage, StorageError
from bot.storage.engine import normalise_url
from bot.storage.migrate import head_revision
from bot.storage.schema import metadata
from tests._db import sqlite_file_url


@pytest.mark.parametrize(
    ("given", "driver", "database"),
    [
        ("sqlite:///data/gatejumper.db", "sqlite+aiosqlite", "data/gatejumper.db"),
        ("sqlite:////var/lib/gj/bot.db", "sqlite+aiosqlite", "/var/lib/gj/bot.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite", "x.db"),
        ("postgresql://u:pw@db.example:5433/gj", "postgresql+asyncpg", "gj"),
        ("postgres://u@localhost/gj", "postgresql+asyncpg", "gj"),
        ("postgresql+asyncpg://u@localhost/gj", "postgresql+asyncpg", "gj"),
        ("  postgres://u@localhost/gj\n", "postgresql+asyncpg", "gj"),
    ],
)
def test_urls_are_normalised_to_the_async_drivers(given: str, driver: str, database: str) -> None:
    url = normalise_url(given)
    assert (url.drivername, url.database) == (driver, database)


def test_postgres_url_keeps_credentials_and_port() -> None:
    url = normalise_url("postgres://gj:s3cret@db.example:5433/gatejumper")
    assert (url.username, url.password, url.host, url.port) == ("gj", "s3cret", "db.example", 5433)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "no database URL given"),
        ("gatejumper.db", "not a database URL"),
        ("mysql://u@localhost/gj", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://u@localhost/gj", "unsupported database"),
        ("sqlite://", "SQLite needs a file"),
        ("sqlite:///:memory:", "SQLite needs a file"),
        ("postgresql://u:hunter2@localhost", "no database name"),
    ],
)
async def test_bad_urls_are_refused_in_one_line(given: str, message: str) -> None:
    with pytest.raises(StorageError) as caught:
        await Storage.open(given)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert "hunter2" not in text


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_unreachable_server_is_a_storage_error() -> None:
    url = f"postgresql://postgres:pw@127.0.0.1:{_closed_port()}/gatejumper"
    with pytest.raises(StorageError) as caught:
        await Storage.open(url)
    text = str(caught.value)
    assert "server not reachable" in text
    assert "\n" not in text and "pw@" not in text


@pytest.mark.postgres
async def test_missing_postgres_database_is_a_storage_error(postgres_url: str) -> None:
    missing = postgres_url.rpartition("/")[0] + "/gatejumper_no_such_database"
    with pytest.raises(StorageError, match='database "gatejumper_no_such_database" does not exist'):
        await Storage.open(missing)


async def test_sqlite_path_that_is_a_directory_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="is a directory"):
        await Storage.open(sqlite_file_url(tmp_path))


async def test_sqlite_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the tables you are looking for\n" * 100)
    with pytest.raises(StorageError, match="file is not a database") as caught:
        await Storage.open(sqlite_file_url(path))
    assert "\n" not in str(caught.value)


async def test_sqlite_creates_missing_directories(tmp_path: Path) -> None:
    path = tmp_path / "deeply" / "nested" / "gatejumper.db"
    async with await Storage.open(sqlite_file_url(path)) as storage:
        assert storage.dialect == "sqlite"
    assert path.is_file()


async def test_sqlite_relative_path_is_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with await Storage.open("sqlite:///data/gatejumper.db"):
        pass
    assert (tmp_path / "data" / "gatejumper.db").is_file()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_busy_timeout(sqlite_url: str) -> None:
    async with await Storage.open(sqlite_url) as storage:
        async with storage._engine.connect() as connection:
            pragmas = [
                (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
    assert pragmas[0] == "wal"
    assert pragmas[1] == 1
    assert pragmas[2] >= 1000
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as raw:  # WAL is persistent: other tools see it too
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def _revision_and_diff(connection: Connection) -> tuple[str | None, list[object]]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return context.get_current_revision(), compare_metadata(context, metadata)


async def test_migrations_run_once_and_match_the_schema(database_url: str) -> None:
    for _ in range(2):  # the second open finds the schema current and changes nothing
        async with await Storage.open(database_url) as storage:
            async with storage._engine.connect() as connection:
                revision, diff = await connection.run_sync(_revision_and_diff)
                tables = await connection.run_sync(
                    lambda c: sorted(sa.inspect(c).get_table_names())
                )
            assert revision == head_revision() == "0003"
            assert diff == []
            assert tables == [
                "alembic_version",
                "disabled_targets",
                "discord_messages",
                "events",
                "feeds",
                "items",
                "post_threads",
                "relay_cursors",
                "relays",
                "webhooks",
            ]


async def test_open_fails_clearly_on_a_schema_newer_than_the_code(database_url: str) -> None:
    async with await Storage.open(database_url) as storage:
        async with storage._engine.begin() as connection:
            await connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StorageError, match=r"9999.*newer Gatejumper"):
        await Storage.open(database_url)
