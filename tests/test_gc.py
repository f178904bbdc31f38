"""The garbage collector's settings the bot takes once started (``bot.app.settle_collector``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot.app import GC_YOUNG_THRESHOLD, settle_collector


@pytest.fixture(autouse=True)
def collector() -> Iterator[None]:
    """Each test starts from CPython's defaults and leaves the collector as it found it."""
    kept = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*kept)


def test_objects_alive_at_start_up_are_frozen_and_young_passes_are_fewer() -> None:
    config = {"blogs": [{"name": "modite"}]}
    assert any(o is config for o in gc.get_objects())
    settle_collector()
    assert not any(o is config for o in gc.get_objects()), "out of the collector's passes"
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)


@pytest.mark.parametrize(
    ("threshold", "kept"),
    [((50_000, 5, 20), (50_000, 5, 20)), ((0, 10, 10), (0, 10, 10)), ((900, 3, 4), None)],
)
def test_an_operators_own_threshold_is_kept_unless_lower(
    threshold: tuple[int, int, int], kept: tuple[int, int, int] | None
) -> None:
    gc.set_threshold(*threshold)
    settle_collector()
    assert gc.get_threshold() == (kept or (GC_YOUNG_THRESHOLD, *threshold[1:]))
