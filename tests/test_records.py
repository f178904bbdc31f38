"""``@immutable`` records: frozen for the type checker, equal and hashed by value, cheap to make."""

from __future__ import annotations

import dataclasses
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mypy import api as mypy_api

from bot.feeds.plan import Planned
from bot.feeds.sources.base import NotModified, Retrieved
from bot.feeds.update import FeedOutcome, Outcome
from bot.storage.records import FeedState

ROOT = Path(__file__).resolve().parent.parent


def state(**changes: object) -> FeedState:
    now = datetime(2026, 12, 6, tzinfo=UTC)
    made = FeedState(
        "b:posts", "b", "https://b.example/feed/", "posts", etag='"1"', next_poll_at=now
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def test_equal_and_hashed_by_value_as_a_frozen_dataclass() -> None:
    assert state() == state()
    assert hash(state()) == hash(state())
    assert state() != state(etag='"2"')
    assert len({state(), state(), state(etag='"2"')}) == 2
    outcome = FeedOutcome("b:posts", Outcome.UNCHANGED, 0, None, state())
    assert outcome == FeedOutcome(
        "b:posts", Outcome.UNCHANGED, state=state(etag='"2"')
    )  # state: not compared
    assert hash(outcome) == hash(FeedOutcome("b:posts", Outcome.UNCHANGED))


def test_slots_defaults_and_replace() -> None:
    made = FeedState(key="k", blog="b", url="u", role="posts")
    assert not hasattr(made, "__dict__")
    assert (made.failures, made.etag, made.emit_on_first_poll) == (0, None, False)
    moved = dataclasses.replace(made, failures=2)
    assert (moved.failures, made.failures) == (2, 0)
    assert [f.name for f in dataclasses.fields(FeedState)][:4] == ["key", "blog", "url", "role"]


def test_the_type_checker_refuses_assignments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Immutability is the type checker's to enforce: an assignment to a field is an error."""
    config = tmp_path / "mypy.ini"  # not the project's (its ``packages`` exclude ``-c``)
    config.write_text("[mypy]\nignore_missing_imports = True\n")
    monkeypatch.setenv("MYPYPATH", str(ROOT))
    code = textwrap.dedent(
        """
        from bot.feeds.plan import Planned
        from bot.feeds.sources.base import NotModified, Retrieved
        from bot.feeds.update import FeedOutcome
        from bot.storage.records import FeedState

        def mutate(
            state: FeedState, outcome: FeedOutcome, got: Retrieved, same: NotModified,
            planned: Planned,
        ) -> None:
            state.etag = "x"
            outcome.events = 2
            got.bodies = ()
            same.max_age = 1.0
            planned.state = state
        """
    )
    stdout, _, status = mypy_api.run(
        [
            "--config-file",
            str(config),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--follow-imports=silent",
            "--python-version=3.11",
            "-c",
            code,
        ]
    )
    assert status == 1, stdout
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert len(errors) == 5, stdout
    for error, field in zip(errors, ["etag", "events", "bodies", "max_age", "state"], strict=True):
        assert f'"{field}"' in error and "read-only" in error, error


@pytest.mark.parametrize("frozen", [FeedState, FeedOutcome, Retrieved, NotModified, Planned])
def test_records_are_declared_immutable(frozen: type) -> None:
    """The decorator, not a plain dataclass (which the type checker would let be assigned)."""
    source = Path(__import__(frozen.__module__, fromlist=["_"]).__file__ or "").read_text()
    assert f"@immutable\nclass {frozen.__name__}:" in source
