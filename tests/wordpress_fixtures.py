"""Pytest fixtures for a real WordPress (wired in via ``pytest_plugins``).

- ``wordpress``: one running WordPress for the whole session, pretty permalinks,
  the seed thread loaded (``wordpress.seed``). Shared: treat it as read-only.
- ``wordpress_seed``: the ids of the seed thread in ``wordpress``.
- ``make_wordpress``: a factory for private instances a test may change at will,
  ``make_wordpress(pretty_permalinks=False, seed=False)``; each is stopped and its
  database dropped when the test ends.

Provisioning installs what is missing (``scripts/wordpress.sh install``) and fails
the test with the reason when it cannot; it never skips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.wp import SEED_THREAD, Seed, WordPress, WordPressError

MakeWordPress = Callable[..., WordPress]


def _provision(workdir: Path, *, pretty_permalinks: bool, seed: bool) -> WordPress:
    if seed and not SEED_THREAD.exists():
        pytest.fail(f"seed thread missing: expected {SEED_THREAD} (../shared/seed/thread.json)")
    try:
        instance = WordPress.provision(workdir, pretty_permalinks=pretty_permalinks)
    except WordPressError as error:
        pytest.fail(f"could not provision the test WordPress: {error}", pytrace=False)
    try:
        if seed:
            instance.load_seed()
    except BaseException:
        instance.close()
        raise
    return instance


@pytest.fixture(scope="session")
def wordpress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WordPress]:
    instance = _provision(tmp_path_factory.mktemp("wordpress"), pretty_permalinks=True, seed=True)
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture(scope="session")
def wordpress_seed(wordpress: WordPress) -> Seed:
    assert wordpress.seed is not None
    return wordpress.seed


@pytest.fixture
def make_wordpress(tmp_path: Path) -> Iterator[MakeWordPress]:
    instances: list[WordPress] = []

    def make(*, pretty_permalinks: bool = True, seed: bool = True) -> WordPress:
        workdir = tmp_path / f"wordpress-{len(instances)}"
        workdir.mkdir()
        instance = _provision(workdir, pretty_permalinks=pretty_permalinks, seed=seed)
        instances.append(instance)
        return instance

    try:
        yield make
    finally:
        for instance in instances:
            instance.close()
