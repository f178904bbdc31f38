"""Database URLs and engines: the two backends we support, set up the same way every time.

Users write ``sqlite:///data/gatejumper.db`` or ``postgresql://user@host/db``; we pick the async
driver, turn on WAL, foreign keys and a busy timeout for SQLite, and let SQLAlchemy (not the
sqlite3 module) decide when a transaction begins so that DDL and reads are transactional too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.storage.errors import StorageError

SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"
_DRIVERS = {
    "sqlite": SQLITE_DRIVER,
    "sqlite+aiosqlite": SQLITE_DRIVER,
    "postgresql": POSTGRES_DRIVER,
    "postgres": POSTGRES_DRIVER,
    "postgresql+asyncpg": POSTGRES_DRIVER,
}
_ACCEPTED = "sqlite:///path/to/file.db or postgresql://user:password@host:port/database"

SQLITE_BUSY_TIMEOUT_MS = 10_000
POSTGRES_CONNECT_TIMEOUT_S = 10

#: Execution option naming the BEGIN flavour for a SQLite transaction ("IMMEDIATE" for writes).
SQLITE_BEGIN = "gatejumper_sqlite_begin"


def normalise_url(url: str) -> URL:
    """Parse a user-given database URL and point it at the async driver; raises StorageError."""
    text = url.strip()
    if not text:
        raise StorageError(f"no database URL given; expected {_ACCEPTED}")
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise StorageError(f"not a database URL: {text!r}; expected {_ACCEPTED}") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise StorageError(
            f"unsupported database {parsed.drivername!r} in {_safe(parsed)}; expected {_ACCEPTED}"
        )
    parsed = parsed.set(drivername=driver)
    if driver == SQLITE_DRIVER:
        return _sqlite_file(parsed)
    if not parsed.database:
        raise StorageError(f"no database name in {_safe(parsed)}; expected {_ACCEPTED}")
    return parsed


def describe(url: URL) -> str:
    """The URL as it may appear in logs and error messages (password hidden)."""
    return _safe(url)


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _sqlite_file(url: URL) -> URL:
    """A SQLite URL must name a file; a memory database would vanish with its connection."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise StorageError(
            f"SQLite needs a file, not a memory database ({database or 'no path'} given); "
            "write sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    return url.set(database=str(Path(database).expanduser()))


def create_engine(url: URL) -> AsyncEngine:
    """An async engine for a normalised URL, with our per-backend connection settings."""
    if url.drivername == SQLITE_DRIVER:
        return _sqlite_engine(url)
    return create_async_engine(
        url,
        pool_pre_ping=True,
        connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT_S},
    )


def _sqlite_engine(url: URL) -> AsyncEngine:
    path = Path(url.database or "")
    if path.is_dir():
        raise StorageError(f"the SQLite database {path} is a directory; name a file in it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the directory for {path}: {exc.strerror}") from None
    engine = create_async_engine(url)
    event.listen(engine.sync_engine, "connect", _sqlite_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """Per-connection pragmas; and take BEGIN away from the sqlite3 module (see _sqlite_begin)."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Emit BEGIN ourselves: sqlite3 would skip it for SELECT and DDL, breaking atomicity."""
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that will write: on SQLite it takes the write lock up front (BEGIN
    IMMEDIATE), so another process holding it makes us wait (busy timeout) instead of fail."""
    async with engine.connect() as connection:
        await connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        async with connection.begin():
            yield connection
