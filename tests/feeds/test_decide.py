"""Table tests of the pure decider: stored state + parsed listing → writes and events."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.events import (
    CommentEdited,
    CommentRemoved,
    FeedFailing,
    FeedRecovered,
    NewComment,
    NewPingback,
    NewPost,
)
from bot.feeds.decide import (
    after_failure,
    after_success,
    content_hash,
    decide_entries,
    next_poll,
    oldest_first,
    polled_again,
)
from bot.feeds.models import Entry, EntryKind, ParsedFeed
from bot.storage.records import FeedState, KnownItem

T0 = datetime(2009, 7, 1, 12, 0, tzinfo=UTC)


def post(n: int, **kw: object) -> Entry:
    return Entry(
        EntryKind.POST, f"post-{n}", title=f"Post {n}", published=T0 + timedelta(days=n), **kw
    )  # type: ignore[arg-type]


def comment(
    n: int, parent: int | None = None, kind: EntryKind = EntryKind.COMMENT, **kw: object
) -> Entry:
    values: dict[str, object] = {
        "author": f"c{n}",
        "content_html": f"<p>comment {n}</p>",
        "published": T0 + timedelta(minutes=n),
        "post_key": "post-1",
        "parent_key": f"comment-{parent}" if parent else None,
        "native_id": str(n),
    }
    values.update(kw)
    return Entry(kind, f"comment-{n}", **values)  # type: ignore[arg-type]


def known(entry: Entry, *, removed: bool = False, digest: str | None = None) -> KnownItem:
    return KnownItem(
        blog="b",
        key=entry.key,
        kind=entry.kind,
        content_hash=digest or content_hash(entry),
        removed=removed,
        published=entry.published,
        post_key=entry.post_key,
        entry=entry,
    )


def listing(*entries: Entry, window: datetime | None = None) -> ParsedFeed:
    return ParsedFeed(entries=entries, window_start=window, kinds=(EntryKind.COMMENT,))


def summary(events: tuple[object, ...]) -> list[tuple[str, str]]:
    out = []
    for e in events:
        key = getattr(e, "key", None) or next(
            getattr(e, n).key for n in ("post", "comment", "pingback") if hasattr(e, n)
        )
        out.append((type(e).__name__, key))
    return out


CASES = [
    # (name, parsed entries, known items, kwargs, expected events, expected written keys)
    (
        "baseline records silently",
        [comment(1), comment(2)],
        [],
        {"baseline": True},
        [],
        ["comment-1", "comment-2"],
    ),
    (
        "new comments oldest first",
        [comment(3), comment(2, parent=1)],
        [],
        {},
        [("NewComment", "comment-2"), ("NewComment", "comment-3")],
        ["comment-2", "comment-3"],
    ),
    ("known unchanged is silent", [comment(1)], [known(comment(1))], {}, [], []),
    (
        "edited comment",
        [comment(1, content_html="<p>edited</p>")],
        [known(comment(1))],
        {},
        [("CommentEdited", "comment-1")],
        ["comment-1"],
    ),
    (
        "volatile fields ignored",
        [comment(1, avatar_url="https://new/avatar", url="https://x/#c1")],
        [known(comment(1))],
        {},
        [],
        [],
    ),
    (
        "unapproved becomes removal",
        [comment(1, status="hold")],
        [known(comment(1))],
        {},
        [("CommentRemoved", "comment-1")],
        ["comment-1"],
    ),
    (
        "re-approved comes back as new",
        [comment(1)],
        [known(comment(1), removed=True)],
        {},
        [("NewComment", "comment-1")],
        ["comment-1"],
    ),
    (
        "unseen held comment recorded, not announced",
        [comment(4, status="hold")],
        [],
        {},
        [],
        ["comment-4"],
    ),
    (
        "pingback silent unless enabled",
        [comment(5, kind=EntryKind.PINGBACK)],
        [],
        {},
        [],
        ["comment-5"],
    ),
    (
        "pingback announced when enabled",
        [comment(5, kind=EntryKind.PINGBACK)],
        [],
        {"include_pingbacks": True},
        [("NewPingback", "comment-5")],
        ["comment-5"],
    ),
    (
        "duplicate keys: first wins",
        [comment(1), comment(1, content_html="<p>dup</p>")],
        [],
        {},
        [("NewComment", "comment-1")],
        ["comment-1"],
    ),
]


@pytest.mark.parametrize(
    ("name", "entries", "stored", "kwargs", "expected", "written"), CASES, ids=[c[0] for c in CASES]
)
def test_decide_table(name, entries, stored, kwargs, expected, written) -> None:  # type: ignore[no-untyped-def]
    kwargs = {"baseline": False, **kwargs}
    decision = decide_entries("b", listing(*entries), {k.key: k for k in stored}, **kwargs)
    assert summary(decision.events) == expected
    assert [w.entry.key for w in decision.writes] == written


def test_new_comment_keeps_parent() -> None:
    decision = decide_entries("b", listing(comment(2, parent=1)), {}, baseline=False)
    (event,) = decision.events
    assert isinstance(event, NewComment)
    assert event.comment.parent_key == "comment-1"
    assert event.blog == "b"


def test_removal_inferred_only_inside_a_complete_window() -> None:
    gone = known(comment(7))
    kept = known(comment(8))
    in_window = [gone, kept]
    with_window = decide_entries(
        "b", listing(comment(8), window=T0), {kept.key: kept}, baseline=False, in_window=in_window
    )
    assert summary(with_window.events) == [("CommentRemoved", "comment-7")]
    assert [(w.entry.key, w.removed) for w in with_window.writes] == [("comment-7", True)]
    removed = with_window.events[0]
    assert isinstance(removed, CommentRemoved) and removed.post_key == "post-1"

    without_window = decide_entries(
        "b", listing(comment(8)), {kept.key: kept}, baseline=False, in_window=in_window
    )
    assert without_window.events == ()


def test_backfill_announces_only_newest_posts_on_baseline() -> None:
    parsed = ParsedFeed(entries=(post(3), post(1), post(2)))
    decision = decide_entries("b", parsed, {}, baseline=True, backfill=2)
    assert summary(decision.events) == [("NewPost", "post-2"), ("NewPost", "post-3")]
    assert all(isinstance(e, NewPost) for e in decision.events)
    assert len(decision.writes) == 3


def test_oldest_first_breaks_ties_by_native_id_then_reverse_listing() -> None:
    same = T0
    a = comment(10, published=same)
    b = comment(9, published=same)
    assert [e.key for e in oldest_first([a, b])] == ["comment-9", "comment-10"]
    x = Entry(EntryKind.POST, "x", published=None)
    y = Entry(EntryKind.POST, "y", published=None)
    assert [e.key for e in oldest_first([x, y])] == ["y", "x"]


def state(**kw: object) -> FeedState:
    return FeedState(key="b:comments", blog="b", url="https://b.example/c", role="comments", **kw)  # type: ignore[arg-type]


FAILURE_TABLE = [
    # failures before, failing_after, expect event, expect failing_since set
    (0, 3, False, False),
    (1, 3, False, False),
    (2, 3, True, True),
    (5, 3, False, True),  # already failing: no second alert
]


@pytest.mark.parametrize(("before", "threshold", "alert", "failing"), FAILURE_TABLE)
def test_after_failure_alerts_once(before: int, threshold: int, alert: bool, failing: bool) -> None:
    since = T0 if before >= threshold else None
    new, events = after_failure(
        state(failures=before, failing_since=since),
        T0,
        "HTTP 500",
        retry_in=timedelta(minutes=2),
        failing_after=threshold,
    )
    assert new.failures == before + 1
    assert new.last_error == "HTTP 500"
    assert new.next_poll_at == T0 + timedelta(minutes=2)
    assert (new.failing_since is not None) is failing
    assert [type(e) for e in events] == ([FeedFailing] if alert else [])


def test_after_success_recovers_and_resets() -> None:
    failing = state(failures=4, last_error="boom", failing_since=T0)
    new, events = after_success(
        failing,
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=2),
        etag='"e"',
        last_modified=None,
        body_hash="h",
    )
    assert (new.failures, new.last_error, new.failing_since) == (0, None, None)
    assert (new.etag, new.body_hash, new.synced_at) == ('"e"', "h", T0 + timedelta(hours=1))
    (event,) = events
    assert isinstance(event, FeedRecovered) and event.failing_since == T0
    _, quiet = after_success(state(), T0, T0, etag=None, last_modified=None, body_hash=None)
    assert quiet == ()


_SCHEDULE = ("next_poll_at", "last_polled_at", "last_success_at")


@given(
    failures=st.sampled_from([0, 1, 3]),
    last_error=st.sampled_from([None, "HTTP 500"]),
    failing_since=st.sampled_from([None, T0]),
    synced_at=st.sampled_from([None, T0]),
    stored=st.sampled_from([(None, None), ('"a"', None), ('"a"', "Wed, 01 Jul 2009")]),
    answered=st.sampled_from([(None, None), ('"a"', None), ('"b"', "Wed, 01 Jul 2009")]),
    emit=st.booleans(),
    post_key=st.sampled_from([None, "post-1"]),
)
def test_polled_again_is_after_success_when_only_the_schedule_moves(
    failures: int,
    last_error: str | None,
    failing_since: datetime | None,
    synced_at: datetime | None,
    stored: tuple[str | None, str | None],
    answered: tuple[str | None, str | None],
    emit: bool,
    post_key: str | None,
) -> None:
    old = state(
        failures=failures,
        last_error=last_error,
        failing_since=failing_since,
        synced_at=synced_at,
        etag=stored[0],
        last_modified=stored[1],
        body_hash="h",
        emit_on_first_poll=emit,
        post_key=post_key,
        next_poll_at=T0,
        last_polled_at=T0 - timedelta(minutes=5),
    )
    now, later = T0 + timedelta(minutes=1), T0 + timedelta(minutes=6)
    full, events = after_success(
        old, now, later, etag=answered[0], last_modified=answered[1], body_hash="h"
    )
    only_schedule = not events and all(
        getattr(full, f) == getattr(old, f)
        for f in FeedState.__dataclass_fields__
        if f not in _SCHEDULE
    )
    moved = polled_again(old, now, later, etag=answered[0], last_modified=answered[1])
    assert moved == (full if only_schedule else None)
    if moved is not None:
        assert (moved.next_poll_at, moved.last_polled_at, moved.last_success_at) == (
            later,
            now,
            now,
        )


def test_next_poll_jitter_bounds_and_max_age() -> None:
    rng = random.Random(1)
    times = {next_poll(T0, timedelta(minutes=10), 0.1, rng) for _ in range(50)}
    assert all(T0 + timedelta(minutes=9) <= t <= T0 + timedelta(minutes=11) for t in times)
    assert len(times) > 40  # spread, not one instant
    later = next_poll(T0, timedelta(minutes=1), 0.0, rng, max_age=3600)
    assert later == T0 + timedelta(hours=1)


def test_next_poll_jitter_is_uniform_over_the_spread_as_random_uniform_draws_it() -> None:
    ours, reference = random.Random(7), random.Random(7)
    for _ in range(200):
        spread = 600 * 0.1
        expected = T0 + timedelta(seconds=600 + reference.uniform(-spread, spread))
        assert abs(next_poll(T0, timedelta(minutes=10), 0.1, ours) - expected) <= timedelta(
            microseconds=1
        )


def test_edit_of_pingback_is_not_announced_as_comment_edit() -> None:
    ping = comment(5, kind=EntryKind.PINGBACK)
    decision = decide_entries(
        "b",
        listing(comment(5, kind=EntryKind.PINGBACK, content_html="x")),
        {ping.key: known(ping)},
        baseline=False,
    )
    assert not any(isinstance(e, CommentEdited | NewPingback) for e in decision.events)
    assert len(decision.writes) == 1
