"""Fresh databases for tests: a SQLite file under ``tmp_path``, or a new PostgreSQL database.

PostgreSQL is the real server at 127.0.0.1:5432, user ``postgres``, trust auth, as set up by
``scripts/postgres.sh``. When it is not there, tests fail (never skip) and say so.

Use the helpers directly, or the fixtures: import them into a ``conftest.py``
(``from tests._db import database_url, postgres_url, sqlite_url  # noqa: F401``) or list
``"tests._db"`` in ``pytest_plugins`` of the top-level ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

#: Where test databases are created; override with GATEJUMPER_TEST_POSTGRES if you must.
POSTGRES_ADMIN_URL = os.environ.get(
    "GATEJUMPER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_HOW_TO_FIX = "start it with scripts/postgres.sh (as root), then run the tests again"


def sqlite_file_url(path: Path) -> str:
    """The URL of a SQLite file, as a user would write it in config.yaml."""
    return f"sqlite:///{path}"


def _with_database(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


async def _admin_connection() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        problem = str(exc) or type(exc).__name__
    pytest.fail(
        f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({problem}); {_HOW_TO_FIX}",
        pytrace=False,
    )


async def create_postgres_database(prefix: str = "gatejumper_test") -> str:
    """Create an empty database with a random name; returns its URL."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    connection = await _admin_connection()
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return _with_database(POSTGRES_ADMIN_URL, name)


async def drop_postgres_database(url: str) -> None:
    """Drop a database made by :func:`create_postgres_database`, even if connections remain."""
    name = url.rpartition("/")[2]
    connection = await _admin_connection()
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@asynccontextmanager
async def fresh_postgres_database(prefix: str = "gatejumper_test") -> AsyncIterator[str]:
    url = await create_postgres_database(prefix)
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file that does not exist yet (its directory does not either)."""
    return sqlite_file_url(tmp_path / "db" / "gatejumper.db")


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A new empty PostgreSQL database, dropped after the test."""
    async with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each test that uses it runs twice: on a fresh SQLite file and a fresh PostgreSQL db."""
    if request.param == "sqlite":
        yield sqlite_file_url(tmp_path / "db" / "gatejumper.db")
        return
    async with fresh_postgres_database() as url:
        yield url
