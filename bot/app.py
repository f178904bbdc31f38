"""Wiring: open storage, HTTP and the parser pool once, then poll and deliver.

``run`` is what ``gatejumper run`` calls; ``preview`` is ``gatejumper preview``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.config import AnnounceConfig, BlogConfig, SecretMissingError, Settings, secret
from bot.delivery import deliver_pending
from bot.events import NewComment, NewPost
from bot.feeds.decide import oldest_first
from bot.feeds.errors import UpdateError
from bot.feeds.fetch import Fetcher
from bot.feeds.models import EntryKind
from bot.feeds.parse import ParserPool, parse_feed
from bot.feeds.poller import Poller, summarise
from bot.feeds.schedule import PollScheduler
from bot.feeds.sources.base import NotModified, ParseContext
from bot.feeds.sources.feed import discover_feeds
from bot.feeds.update import FeedOutcome, Outcome, Updater
from bot.sinks import Sink
from bot.sinks.console import ConsoleSink
from bot.storage import Storage

if TYPE_CHECKING:
    from bot.bridge import Gatejumper

log = logging.getLogger(__name__)


@dataclass
class Core:
    """The long-lived parts every mode shares."""

    settings: Settings
    storage: Storage
    fetcher: Fetcher
    parser: ParserPool
    updater: Updater
    poller: Poller


@contextlib.asynccontextmanager
async def open_core(settings: Settings, *, progress: Progress | None = None) -> AsyncIterator[Core]:
    storage = await Storage.open(settings.database)
    try:
        async with Fetcher(settings.polling) as fetcher:
            parser = ParserPool()
            try:
                updater = Updater(settings, storage, fetcher, parser)
                poller = Poller(settings, updater, progress=progress)
                settle_collector()
                yield Core(settings, storage, fetcher, parser, updater, poller)
            finally:
                parser.close()
    finally:
        await storage.close()


#: Allocations (less frees) of objects the garbage collector tracks before its youngest pass.
#: CPython's 700 is below what a poll cycle holds in flight (tens of objects for each of the
#: 64 feeds being polled): about 80 collections per 1,000 unchanged feeds, 11 ms of a
#: 0.12 s cycle; none with 10,000 (bench/). Objects freed by reference counting, nearly
#: all, never wait for it.
GC_YOUNG_THRESHOLD = 10_000


def settle_collector() -> None:
    """Start-up done: keep the garbage collector out of the polling's way.

    The objects alive now (config, modules) live for the whole run: frozen, they leave the
    collector's full passes, which otherwise stall the event loop for ~100 ms at thousands
    of feeds. The youngest pass runs after ``GC_YOUNG_THRESHOLD`` allocations instead of
    700; the older generations keep their thresholds, and a threshold already higher (or 0:
    collection off) is left as it is.
    """
    gc.freeze()
    young, *older = gc.get_threshold()
    if 0 < young < GC_YOUNG_THRESHOLD:
        gc.set_threshold(GC_YOUNG_THRESHOLD, *older)


class Progress:
    """Progress of long work on stderr: at most one line every two seconds."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, every: float = 2.0) -> None:
        self.total = total
        self.stream = stream
        self.every = every
        self.done = 0
        self.failed = 0
        self._last = time.monotonic()

    def __call__(self, outcome: FeedOutcome) -> None:
        self.done += 1
        self.failed += outcome.outcome is Outcome.FAILED
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            total = f"/{self.total}" if self.total else ""
            print(
                f"gatejumper: polled {self.done}{total} feeds ({self.failed} failed)",
                file=self.stream,
                flush=True,
            )


async def run(
    settings: Settings, *, dry_run: bool, once: bool, config_path: Path | None = None
) -> int:
    """Poll and deliver until stopped (or one cycle with ``once``); returns an exit code."""
    if not dry_run:
        return await run_discord(settings, once=once)
    sink = ConsoleSink(
        {b.name: b for b in settings.blogs}, alerts_channel=settings.discord.alerts_channel
    )
    if not settings.blogs:
        print(
            "gatejumper: no blogs configured; add one under 'blogs:' in the config", file=sys.stderr
        )
        return 2
    progress = Progress(total=0)
    async with open_core(settings, progress=progress) as core:
        await deliver_pending(core.storage, sink)  # what a previous run left undelivered
        if once:
            outcomes = await core.poller.poll_all(force=True)
            await deliver_pending(core.storage, sink)
            _report_cycle(outcomes)
            return 0
        return await _run_forever(core, sink)


async def run_discord(settings: Settings, *, once: bool = False) -> int:
    """Run the bridge on Discord until SIGINT/SIGTERM; returns an exit code.

    Problems the operator must fix (token, intents, api_base) are one line on
    stderr and exit code 2.
    """
    import discord  # lazy: --dry-run and the CLI's checks never load discord.py

    from bot.bridge import MESSAGE_CONTENT_HELP, Gatejumper, point_discord_at

    if once:
        print(
            "gatejumper: --once only works with --dry-run; run without --once to post to Discord",
            file=sys.stderr,
        )
        return 2
    if not settings.blogs:
        print(
            "gatejumper: no blogs configured; add one under 'blogs:' in the config", file=sys.stderr
        )
        return 2
    try:
        token = secret(settings.discord.token_env)
    except SecretMissingError as error:
        print(f"gatejumper: the Discord bot token is missing: {error}", file=sys.stderr)
        return 2
    gateway = settings.discord.gateway_url
    try:
        point_discord_at(str(settings.discord.api_base), str(gateway) if gateway else None)
    except ValueError as error:  # an api_base or gateway_url discord.py cannot use
        print(f"gatejumper: {error}", file=sys.stderr)
        return 2
    try:
        async with Gatejumper(settings) as bot:
            with _closing_on_signals(bot):
                await bot.start(token)
    except discord.LoginFailure as error:
        print(f"gatejumper: the Discord token was refused: {error}", file=sys.stderr)
        return 2
    except discord.PrivilegedIntentsRequired:
        print(f"gatejumper: {MESSAGE_CONTENT_HELP}", file=sys.stderr)
        return 2
    except discord.GatewayNotFound:
        print(
            f"gatejumper: {settings.discord.api_base}/gateway/bot did not say where the gateway "
            "is; check discord.api_base, or set discord.gateway_url",
            file=sys.stderr,
        )
        return 1
    return 0


@contextlib.contextmanager
def _closing_on_signals(bot: Gatejumper) -> Iterator[None]:
    """SIGINT/SIGTERM close the bot (which finishes in-flight work) instead of killing it."""
    loop = asyncio.get_running_loop()
    closing: set[asyncio.Task[None]] = set()

    def close() -> None:
        log.info("stopping: signal received")
        task = asyncio.ensure_future(bot.close())
        closing.add(task)
        task.add_done_callback(closing.discard)

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, close)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _report_cycle(outcomes: list[FeedOutcome]) -> None:
    for outcome in outcomes:
        if outcome.outcome is Outcome.FAILED:
            print(f"gatejumper: {outcome.feed}: {outcome.error}", file=sys.stderr)
    print(f"gatejumper: {summarise(outcomes)}", file=sys.stderr)


async def _run_forever(core: Core, sink: Sink) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    delivering = asyncio.Lock()

    async def deliver() -> None:
        async with delivering:
            await deliver_pending(core.storage, sink)

    async def poll(blog: BlogConfig) -> None:
        outcomes = await core.poller.poll_blog(blog)
        log.info("%s: %s", blog.name, summarise(outcomes))
        await deliver()

    scheduler = PollScheduler(core.settings, poll)
    scheduler.add_job(deliver, timedelta(seconds=30), "deliver")
    scheduler.start()
    try:
        await stop.wait()
        log.info("stopping: finishing the event being delivered")
    finally:
        await scheduler.stop()
        async with delivering:
            pass
    return 0


async def preview(url: str, *, limit: int = 3, stream: TextIO = sys.stdout) -> int:
    """Fetch one feed (or a page that links one) and print its newest entries as messages."""
    from bot.config import PollingConfig

    async with Fetcher(PollingConfig()) as fetcher:
        try:
            retrieved = await fetcher.get(url)
            if isinstance(retrieved, NotModified):  # pragma: no cover - no validators were sent
                return 1
            ctx = ParseContext(
                blog="preview", feed_key="preview", url=url, role="posts", now=datetime.now(UTC)
            )
            try:
                parsed = parse_feed(retrieved, ctx)
            except UpdateError:
                feed_url, _ = await discover_feeds(fetcher, url)
                if feed_url is None:
                    raise
                print(f"gatejumper: using the feed {feed_url} found on that page", file=sys.stderr)
                retrieved = await fetcher.get(feed_url)
                assert not isinstance(retrieved, NotModified)
                parsed = parse_feed(retrieved, ctx)
        except UpdateError as error:
            print(f"gatejumper: {error}", file=sys.stderr)
            return 1
    blog = BlogConfig(name="preview", platform="feed", url=url, announce=AnnounceConfig(channel=1))  # type: ignore[arg-type]
    sink = ConsoleSink({"preview": blog}, stream=stream)
    newest = oldest_first(parsed.entries)[-limit:]  # undated: the feed's order, newest first
    if not newest:
        print(f"gatejumper: {url} has no entries", file=sys.stderr)
        return 1
    for entry in newest:
        event = (
            NewPost("preview", entry)
            if entry.kind is EntryKind.POST
            else NewComment("preview", entry)
        )
        await sink.deliver(event)
    return 0
