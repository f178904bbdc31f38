"""Pytest fixtures for a real Isso server (wired in via ``pytest_plugins``).

* ``isso_server``: one Isso per test session, moderation off, guard off.
* ``isso_moderated_server``: one Isso per session with moderation (and the
  admin page, used by ``IssoServer.activate``) on.
* ``isso_thread``: the seed thread loaded on a fresh thread URI of
  ``isso_server`` for each test, so tests may edit and delete freely.
* ``seed_thread_path``: where the shared seed thread is (fails clearly if absent).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.isso import SEED_THREAD, IssoError, IssoServer, SeededThread

_thread_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def seed_thread_path() -> Path:
    if not SEED_THREAD.exists():
        pytest.fail(f"seed thread missing: expected {SEED_THREAD} (../shared/seed/thread.json)")
    return SEED_THREAD


def _start(tmp_path_factory: pytest.TempPathFactory, name: str, moderation: bool) -> IssoServer:
    try:
        return IssoServer.start(tmp_path_factory.mktemp(name), moderation=moderation)
    except IssoError as exc:
        pytest.fail(f"could not start Isso (run scripts/isso.sh): {exc}", pytrace=False)


@pytest.fixture(scope="session")
def isso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IssoServer]:
    server = _start(tmp_path_factory, "isso", moderation=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def isso_moderated_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IssoServer]:
    server = _start(tmp_path_factory, "isso-moderated", moderation=True)
    yield server
    server.stop()


@pytest.fixture
def isso_thread(isso_server: IssoServer, seed_thread_path: Path) -> SeededThread:
    """The 32 seed comments (no pingbacks) on a thread of their own."""
    uri = f"/2009/03/social-media-is-difficult-like-intimacy-{next(_thread_numbers)}/"
    return isso_server.load_seed(seed_thread_path, uri)
