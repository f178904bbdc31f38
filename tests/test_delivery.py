"""The event outbox → sink: in order, marked delivered only afterwards, nothing lost on a crash.

The last test runs the real CLI (``gatejumper run --dry-run --once``) against a
local blog with a backlog, SIGKILLs it at several moments and runs it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery import deliver_pending
from bot.events import Event, NewComment, NewPost
from bot.feeds.models import Entry, EntryKind
from bot.storage import Storage
from bot.storage.records import FeedState, UpdateResult
from tests.dryrun import ROOT, parse_output
from tests.feeds.test_update import FeedSite

DAY0 = datetime(2025, 1, 1, tzinfo=UTC)
FEED = FeedState(
    key="modite:comments", blog="modite", url="https://m.example/feed", role="comments"
)


def event(n: int) -> Event:
    if n % 3 == 0:
        post = Entry(EntryKind.POST, f"post-{n}", title=f"Post {n}", published=DAY0)
        return NewPost("modite", post)
    comment = Entry(
        EntryKind.COMMENT,
        f"comment-{n}",
        author=f"Reader {n}",
        content_html=f"<p>Comment {n}</p>",
        published=DAY0 + timedelta(minutes=n),
        post_key="post-0",
    )
    return NewComment("modite", comment)


async def queue(storage: Storage, *numbers: int) -> list[Event]:
    """Events as one poll would leave them in the outbox."""
    events = [event(n) for n in numbers]
    await storage.apply_update(UpdateResult(FEED, (), tuple(events)))
    return events


@dataclass
class RecordingSink:
    """Remembers what it was given, and whether it was still pending while being delivered."""

    storage: Storage
    fail_on: int | None = None  # the 1-based delivery attempt that raises
    delivered: list[Event] = field(default_factory=list)
    attempts: int = 0
    pending_during_delivery: list[bool] = field(default_factory=list)

    async def deliver(self, event: Event) -> None:
        self.attempts += 1
        pending = [s.event for s in await self.storage.pending_events(limit=1000)]
        self.pending_during_delivery.append(event in pending)
        if self.attempts == self.fail_on:
            raise ConnectionError("Discord is down")
        self.delivered.append(event)


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[Storage]:
    async with await Storage.open(database_url) as opened:
        yield opened


async def pending(storage: Storage) -> list[Event]:
    return [s.event for s in await storage.pending_events(limit=1000)]


async def test_delivers_in_order_and_marks_only_after_the_sink_returned(
    storage: Storage,
) -> None:
    events = await queue(storage, 1, 2, 3)
    events += await queue(storage, 4, 5)
    sink = RecordingSink(storage)

    assert await deliver_pending(storage, sink) == 5

    assert sink.delivered == events
    assert sink.pending_during_delivery == [True] * 5, "marked delivered only afterwards"
    assert await pending(storage) == []
    assert await deliver_pending(storage, sink) == 0 and sink.attempts == 5


async def test_batches_keep_the_order(storage: Storage) -> None:
    events = await queue(storage, *range(1, 12))
    sink = RecordingSink(storage)
    assert await deliver_pending(storage, sink, batch=3) == 11
    assert sink.delivered == events


async def test_a_failing_sink_stops_there_and_a_later_call_resumes_without_loss_or_repeat(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    events = await queue(storage, *range(1, 8))
    failing = RecordingSink(storage, fail_on=3)

    assert await deliver_pending(storage, failing) == 2

    assert failing.delivered == events[:2]
    assert failing.attempts == 3, "nothing after the failed event was tried"
    assert await pending(storage) == events[2:]
    assert "stays queued" in caplog.text and "Discord is down" in caplog.text

    good = RecordingSink(storage)
    assert await deliver_pending(storage, good) == 5
    assert good.delivered == events[2:]
    assert failing.delivered + good.delivered == events, "nothing lost, nothing repeated"


async def test_pending_events_survive_closing_and_reopening_the_database(
    database_url: str,
) -> None:
    async with await Storage.open(database_url) as first:
        events = await queue(first, *range(1, 6))
        sink = RecordingSink(first, fail_on=3)
        assert await deliver_pending(first, sink) == 2

    async with await Storage.open(database_url) as reopened:
        assert await pending(reopened) == events[2:]
        later = RecordingSink(reopened)
        assert await deliver_pending(reopened, later) == 3
        assert sink.delivered + later.delivered == events

    async with await Storage.open(database_url) as again:
        assert await pending(again) == []


async def test_cancelled_during_delivery_the_event_stays_pending(storage: Storage) -> None:
    events = await queue(storage, 1, 2, 3)
    entered = asyncio.Event()

    class HangingSink:
        def __init__(self) -> None:
            self.delivered: list[Event] = []

        async def deliver(self, event: Event) -> None:
            if self.delivered:
                entered.set()
                await asyncio.sleep(60)
            self.delivered.append(event)

    task = asyncio.create_task(deliver_pending(storage, HangingSink()))
    await asyncio.wait_for(entered.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await pending(storage) == events[1:]


# --- the real CLI, killed and run again --------------------------------------------------

BACKLOG = 50
PIPE_BYTES = 4096  # the smallest pipe Linux makes: one page
POST_TEXT = " ".join(["Words that make the announcement long enough to fill pages."] * 5)
_TITLE = re.compile(r'new thread "(Post number \d+)"')


@dataclass
class CliRun:
    stdout: str
    stderr: str
    returncode: int

    @property
    def titles(self) -> list[str]:
        found = []
        for block in parse_output(self.stdout):
            match = _TITLE.search(block.header)
            assert match, block.header
            found.append(match.group(1))
        return found


async def run_cli(config: Path, kill_after: int | None = None) -> CliRun:
    """``gatejumper run --dry-run --once``; SIGKILL its process group after ``kill_after`` bytes.

    Its stdout is a one-page pipe read here in small pieces, so the CLI can never
    be more than a page ahead of the kill, however busy the machine is.
    """
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(config),
            "--dry-run",
            "--once",
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=write_end,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    finally:
        os.close(write_end)
    assert process.stderr is not None
    errors = asyncio.create_task(process.stderr.read())
    out = bytearray()
    try:
        async with asyncio.timeout(60):
            while chunk := await asyncio.to_thread(os.read, read_end, 512):
                out += chunk
                if kill_after is not None and len(out) >= kill_after:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    kill_after = None
            returncode = await process.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        os.close(read_end)
    return CliRun(out.decode(errors="replace"), (await errors).decode(errors="replace"), returncode)


def write_config(path: Path, database: str, site: FeedSite) -> Path:
    path.write_text(
        f"""
database: {database}
blogs:
  - name: modite
    platform: feed
    url: {site.url("/")}
    posts_feed: {site.url("/feed")}
    announce: {{ channel: 111, backfill: {BACKLOG} }}
""",
        encoding="utf-8",
    )
    return path


async def test_killed_runs_lose_nothing_and_repeat_at_most_the_event_in_flight(
    database_url: str, tmp_path: Path
) -> None:
    async with FeedSite() as site:
        for n in range(1, BACKLOG + 1):
            site.add_post(n, DAY0 + timedelta(hours=n), comment_feed=False, text=POST_TEXT)
        config = write_config(tmp_path / "config.yaml", database_url, site)
        expected = [f"Post number {n}" for n in range(1, BACKLOG + 1)]

        runs = [await run_cli(config, kill_after) for kill_after in (1, 3000, 6000)]
        runs.append(await run_cli(config))

    killed, finished = runs[:-1], runs[-1]
    for number, run in enumerate(killed, start=1):
        assert run.returncode == -signal.SIGKILL, f"run {number} ended before the kill"
        assert len(run.titles) < BACKLOG
    assert finished.returncode == 0 and "Traceback" not in finished.stderr, finished.stderr
    async with await Storage.open(database_url) as storage:
        assert await storage.pending_count() == 0, "everything was delivered"

    printed = [title for run in runs for title in run.titles]
    assert set(printed) == set(expected), "every item was printed"
    repeats = len(printed) - len(set(printed))
    assert repeats <= len(killed), f"more repeats than kills: {printed}"
    in_order = [t for i, t in enumerate(printed) if i == 0 or t != printed[i - 1]]
    assert in_order == expected, "oldest first, and a repeat only right where a run was killed"
