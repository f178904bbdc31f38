"""The polling benchmark itself (``bench/bench_poll.py`` is the command that runs it).

Runs the real core (Storage on a SQLite file or PostgreSQL, Fetcher, ParserPool, Updater,
Poller.poll_all) against ``bench/feedserver.py`` in another process, and measures against
baselines taken in the same run. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import ctypes
import gc
import json
import math
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from _machine import machine

from bot.app import settle_collector
from bot.config import Settings
from bot.feeds.fetch import Fetcher
from bot.feeds.parse import ParserPool, PoolMode
from bot.feeds.poller import Poller
from bot.feeds.update import FeedOutcome, Outcome, Updater
from bot.storage import Storage
from bot.storage.records import UpdateResult

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
LAG_INTERVAL = 0.010
TARGET_RATIO = 1.2
TARGET_LAG_MS = 50.0
TARGET_RSS_MB = 200.0
RSS_TARGET_FEEDS = 10_000
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Options:
    feeds: int
    hosts: int
    repeat: int
    database: str
    keep: bool
    modes: tuple[PoolMode, ...]
    name: str
    profile: str | None = None
    default_gc: bool = False

    def profile_path(self, cycle: str) -> Path | None:
        """Where to write a cProfile of ``cycle`` when it was asked for (``--profile``)."""
        return Path(f"{self.name}-{cycle}.prof") if self.profile == cycle else None


# --- the feed server (another process) ---------------------------------------


@dataclass
class FeedServer:
    process: subprocess.Popen[str] | None  # None in the baseline client's process
    port: int
    hosts: list[str]

    def url(self, feed: int) -> str:
        return f"http://{self.hosts[feed % len(self.hosts)]}:{self.port}/feed/{feed}/"

    def control(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://{self.hosts[0]}:{self.port}{path}") as response:
            answer: dict[str, Any] = json.load(response)
        return answer

    def cpu_seconds(self) -> float:
        return float(self.control("/_control/stats")["cpu_seconds"])

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(feeds: int, hosts: int) -> FeedServer:
    command = [sys.executable, str(HERE / "feedserver.py"), "--feeds", str(feeds)]
    command += ["--hosts", str(hosts)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise SystemExit(f"bench: the feed server did not start (exit code {process.returncode})")
    ready = json.loads(line)
    return FeedServer(process, ready["port"], ready["hosts"])


class BaselineClient:
    """The baselines' clients in a process of their own (``poll_client.py``).

    The bot's peak RSS is that of its own process: a plain aiohttp client reading every
    body in the same process would leave memory the allocator keeps, counted as the bot's.
    """

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(
        cls, server: FeedServer, settings: Settings, urls: list[str], *, default_gc: bool
    ) -> BaselineClient:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "poll_client.py"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        client = cls(process)
        polling = settings.polling
        await client.call(
            "setup",
            urls=urls,
            hosts=server.hosts,
            port=server.port,
            concurrency=polling.concurrency,
            per_host=polling.per_host_concurrency,
            polling=polling.model_dump(mode="json"),
            default_gc=default_gc,
        )
        return client

    @property
    def pid(self) -> int:
        return self.process.pid

    async def call(self, op: str, **arguments: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"op": op, **arguments}).encode() + b"\n")
        await self.process.stdin.drain()
        line = await self.process.stdout.readline()
        if not line:
            raise SystemExit(f"bench: the baseline client ended ({op})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        await self.process.wait()


# --- measuring ---------------------------------------------------------------


class LagMonitor:
    """Sleeps ``interval`` in a loop and records how late each wake-up is."""

    def __init__(self, interval: float = LAG_INTERVAL) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.samples.append(time.perf_counter() - start - self.interval)

    def __enter__(self) -> LagMonitor:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.samples) or [0.0]
        return {
            "samples": len(self.samples),
            "p50_ms": round(percentile(ordered, 0.50) * 1000, 2),
            "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
            "max_ms": round(ordered[-1] * 1000, 2),
        }


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def process_tree(root: int, exclude: set[int]) -> list[int]:
    """``root`` and its descendants (from /proc/<pid>/task/*/children), minus ``exclude``."""
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        if pid in exclude:
            continue
        found.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                pending += [int(child) for child in (task / "children").read_text().split()]
    return found


def status_mb(pid: int, name: str) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class PeakMemory:
    """This process's peak RSS over the bot's own cycles only (not the baselines' clients).

    The kernel's high-water mark (VmHWM) is reset before each such cycle (``clear_refs``)
    and read after it; child processes (parser workers, forkserver, resource tracker) are
    only the bot's, so their lifetime VmHWM is read as is.
    """

    def __init__(self) -> None:
        self.parent_mb = 0.0
        self.resettable = True

    def reset(self) -> float:
        """Give back what the baselines freed, reset the high-water mark; the RSS it starts from.

        Memory a baseline client freed stays in this process's RSS until the allocator
        returns it (``malloc_trim``); whatever it cannot return (fragmented arenas) still
        counts against the bot, so the figure errs high.
        """
        gc.collect()
        _malloc_trim()
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.resettable = False
        return status_mb(os.getpid(), "VmRSS")

    def record(self) -> float:
        """The bot's peak since the last reset (kept as the overall peak if higher)."""
        peak = status_mb(os.getpid(), "VmHWM")
        self.parent_mb = max(self.parent_mb, peak)
        return peak

    def report(self, exclude: set[int], workers: set[int]) -> dict[str, Any]:
        processes = [{"pid": os.getpid(), "role": "bot (event loop)", "peak_mb": self.parent_mb}]
        for pid in process_tree(os.getpid(), exclude)[1:]:
            role = "parser worker" if pid in workers else _role(pid)
            processes.append({"pid": pid, "role": role, "peak_mb": status_mb(pid, "VmHWM")})
        return {
            "total_mb": round(sum(p["peak_mb"] for p in processes), 1),
            "processes": processes,
            "parent_peak_over_cycles_only": self.resettable,
        }


def _malloc_trim() -> None:
    """glibc's malloc_trim(0): return free heap pages to the kernel (no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages (a forked worker's inherited ones) split fairly."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PssSampler:
    """The bot's total PSS (its process and children) sampled by a thread while it polls."""

    def __init__(self, exclude: set[int], interval: float = 0.25) -> None:
        self.exclude = exclude
        self.interval = interval
        self.peak_mb = 0.0
        self.active = False  # sample only while the bot polls, not while a baseline runs
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.active:
                continue
            pids = process_tree(os.getpid(), self.exclude)
            self.peak_mb = max(self.peak_mb, sum(pss_mb(pid) for pid in pids))

    def __enter__(self) -> PssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _role(pid: int) -> str:
    with contextlib.suppress(OSError):
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        if "forkserver" in command:
            return "forkserver"
        if "resource_tracker" in command:
            return "resource tracker"
        return command[:60]
    return "?"


# --- baselines ---------------------------------------------------------------


async def plain_get(
    urls: list[str], headers: list[dict[str, str]], concurrency: int, per_host: int
) -> tuple[float, Counter[int]]:
    """The obvious client: one aiohttp session, gather every GET, read every body."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=per_host)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(url: str, extra: dict[str, str]) -> int:
            async with session.get(url, headers=extra) as response:
                await response.read()
                return response.status

        start = time.perf_counter()
        statuses = await asyncio.gather(*(one(u, h) for u, h in zip(urls, headers, strict=True)))
        return time.perf_counter() - start, Counter(statuses)


async def fetcher_only(
    fetcher: Fetcher, urls: list[str], etags: list[str | None]
) -> tuple[float, Counter[str]]:
    """Our Fetcher alone (limits, conditional GET, size caps), no pipeline around it."""
    start = time.perf_counter()
    results = await asyncio.gather(
        *(fetcher.get(u, etag=e) for u, e in zip(urls, etags, strict=True))
    )
    return time.perf_counter() - start, Counter(type(r).__name__ for r in results)


class _RawClient(asyncio.Protocol):
    """Keep-alive GETs with no HTTP library: the cheapest client there is."""

    def __init__(self, requests: list[bytes], done: asyncio.Future[None]) -> None:
        self.requests = requests
        self.done = done
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.need = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._next()

    def _next(self) -> None:
        assert self.transport is not None
        if not self.requests:
            self.transport.close()
            if not self.done.done():
                self.done.set_result(None)
            return
        self.transport.write(self.requests.pop())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.need < 0:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buffer[:end].lower()
                start = head.index(b"content-length:") + 15
                stop = head.find(b"\r\n", start)
                self.need = end + 4 + int(head[start : stop if stop >= 0 else None])
            if len(self.buffer) < self.need:
                return
            self.buffer, self.need = self.buffer[self.need :], -1
            self._next()


async def server_ceiling(
    server: FeedServer, etags: list[str | None], connections: int
) -> dict[str, Any]:
    """Responses per second the server gives the cheapest client, and its CPU share."""
    figures: dict[str, Any] = {}
    loop = asyncio.get_running_loop()
    for name, tags in (("304", etags), ("200", [None] * len(etags))):
        per_host: dict[str, list[bytes]] = {}
        for feed, tag in enumerate(tags):
            host = server.hosts[feed % len(server.hosts)]
            extra = f"If-None-Match: {tag}\r\n" if tag else ""
            request = f"GET /feed/{feed}/ HTTP/1.1\r\nHost: {host}:{server.port}\r\n{extra}\r\n"
            per_host.setdefault(host, []).append(request.encode())
        share = max(1, connections // len(per_host))
        cpu = server.cpu_seconds()
        start = time.perf_counter()
        waits = []
        for host, queue in per_host.items():
            for part in range(share):
                done: asyncio.Future[None] = loop.create_future()
                chunk = queue[part::share]
                await loop.create_connection(
                    lambda c=chunk, d=done: _RawClient(c, d), host, server.port
                )
                waits.append(done)
        await asyncio.gather(*waits)
        seconds = time.perf_counter() - start
        figures[f"raw_client_{name}_per_second"] = round(len(tags) / seconds, 1)
        figures[f"server_cpu_share_{name}"] = round((server.cpu_seconds() - cpu) / seconds, 3)
    return figures


# --- the bot -----------------------------------------------------------------


def bench_settings(server: FeedServer, feeds: int, database: str) -> Settings:
    """N blogs of platform "feed", each with its posts feed set (no discovery)."""
    blogs = [
        {
            "name": f"b{i}",
            "platform": "feed",
            "url": f"http://{server.hosts[i % len(server.hosts)]}:{server.port}/",
            "posts_feed": server.url(i),
            "announce": {"channel": 1},
        }
        for i in range(feeds)
    ]
    return Settings.model_validate({"database": database, "blogs": blogs})


@dataclass
class Cycle:
    name: str
    seconds: float
    outcomes: Counter[str]
    events: int
    lag: dict[str, float]
    server_cpu: float
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "feeds_per_second": round(sum(self.outcomes.values()) / self.seconds, 1),
            "outcomes": dict(self.outcomes),
            "events": self.events,
            "lag": self.lag,
            "server_cpu_share": round(self.server_cpu / self.seconds, 3),
            **self.extra,
        }


class Bench:
    """The bot's parts, opened once and polled through several cycles."""

    def __init__(
        self,
        options: Options,
        server: FeedServer,
        settings: Settings,
        storage: Storage,
        client: BaselineClient,
    ) -> None:
        self.options = options
        self.server = server
        self.settings = settings
        self.storage = storage
        self.client = client
        assert server.process is not None
        self.others = {server.process.pid, client.pid}  # not the bot's processes
        self.memory = PeakMemory()
        self.pss = PssSampler(self.others)
        self.result: dict[str, Any] = {"cycles": {}, "baselines": {}, "expectations": []}

    async def cycle(
        self,
        name: str,
        poller: Poller,
        expect: dict[str, int],
        *,
        profile: Path | None = None,
        ours: bool = True,
        sample_pss: bool = True,
    ) -> Cycle:
        """One ``poll_all(force=True)``, timed, with the loop's lag measured throughout.

        ``sample_pss=False`` for a cycle compared with a baseline: the PSS sampler's thread
        takes the GIL from the loop (about 1–5 ms a sample, every 250 ms), which the
        baseline's process does not pay. Its peak RSS (the kernel's) is recorded all the same.
        """
        cpu = self.server.cpu_seconds()
        profiler = cProfile.Profile() if profile else None
        memory: dict[str, float] = {}
        if ours:
            memory["rss_at_start_mb"] = self.memory.reset()
            self.pss.active = sample_pss
        with LagMonitor() as lag:
            start = time.perf_counter()
            if profiler:
                profiler.enable()
            outcomes: list[FeedOutcome] = await poller.poll_all(force=True)
            if profiler:
                profiler.disable()
            seconds = time.perf_counter() - start
            # the unchanged polls' schedules, written after the cycle (``poll_all`` starts
            # the write and returns): waited for here, so it never overlaps what comes next
            start = time.perf_counter()
            await self.storage.flush_schedules()
            written = time.perf_counter() - start
        self.pss.active = False
        if ours:
            memory["bot_peak_mb"] = self.memory.record()
        if profiler and profile:
            profiler.dump_stats(profile)
            print(f"bench: profile of {name!r} written to {profile}", file=sys.stderr)
        counts = Counter(o.outcome.value for o in outcomes)
        for outcome in [o for o in outcomes if o.outcome is Outcome.FAILED][:5]:
            print(f"bench: {name}: {outcome.feed} failed: {outcome.error}", file=sys.stderr)
        cycle = Cycle(
            name,
            seconds,
            counts,
            sum(o.events for o in outcomes),
            lag.summary(),
            self.server.cpu_seconds() - cpu,
            {**memory, "schedules_written_after_ms": round(written * 1000, 1)},
        )
        if dict(counts) != expect:
            message = f"{name}: expected {expect}, got {dict(counts)}"
            self.result["expectations"].append(message)
            print(f"bench: UNEXPECTED {message}", file=sys.stderr)
        print(
            f"  {name:<34} {seconds:8.2f} s  {dict(counts)}  events={cycle.events}  "
            f"lag p99={cycle.lag['p99_ms']} ms"
            + (f"  schedules written {written * 1000:.1f} ms after" if written >= 0.0005 else "")
            + (
                f"  bot RSS {memory['rss_at_start_mb']:g} → peak {memory['bot_peak_mb']:g} MB"
                if memory
                else ""
            ),
            flush=True,
        )
        return cycle

    async def baseline(self, name: str, headers: list[dict[str, str]]) -> float:
        cpu = self.server.cpu_seconds()
        answer = await self.client.call("plain_get", headers=headers)
        seconds, statuses = answer["seconds"], Counter(answer["statuses"])
        entry = self.result["baselines"].setdefault(name, {"runs": [], "statuses": {}})
        entry["runs"].append(round(seconds, 3))
        entry["statuses"] = dict(statuses)
        entry["server_cpu_share"] = round((self.server.cpu_seconds() - cpu) / seconds, 3)
        print(f"  baseline: {name:<24} {seconds:8.2f} s  {dict(statuses)}", flush=True)
        return seconds

    @property
    def urls(self) -> list[str]:
        return [self.server.url(i) for i in range(self.options.feeds)]

    async def etags(self) -> list[str | None]:
        stored = {state.url: state.etag for state in await self.storage.list_feeds()}
        return [stored.get(url) for url in self.urls]

    async def unchanged(self, name: str, poller: Poller, outcome: str, base: str) -> None:
        """``repeat`` rounds of (baseline, cycle) with every feed unchanged; best of each."""
        n = self.options.feeds
        runs = []
        for index in range(self.options.repeat):
            etags = await self.etags()
            headers = [{"If-None-Match": e} if e and base.startswith("cond") else {} for e in etags]
            await self.baseline(base, headers)
            profile = self.options.profile_path(name) if index == 0 else None
            label = f"{name} ({outcome})"
            runs.append(
                await self.cycle(label, poller, {outcome: n}, profile=profile, sample_pss=False)
            )
        best = min(runs, key=lambda c: c.seconds)
        self.result["cycles"][name] = best.as_json() | {"runs": [round(c.seconds, 3) for c in runs]}

    async def breakdown(self) -> None:
        """Where an unchanged cycle's time goes: our HTTP layer alone, the database alone."""
        etags = await self.etags()
        headers = [{"If-None-Match": e} if e else {} for e in etags]
        ours, base = [], []
        for _ in range(self.options.repeat):
            ours.append((await self.client.call("fetcher_only", etags=etags))["seconds"])
            base.append((await self.client.call("plain_get", headers=headers))["seconds"])
        states = await self.storage.list_feeds()
        keys = [state.key for state in states] + [f"b{i}:comments" for i in range(len(states))]
        start = time.perf_counter()
        await self.storage.get_feeds(keys)
        read = time.perf_counter() - start
        self.storage.forget_feeds()  # what the first cycle after a start reads
        start = time.perf_counter()
        await self.storage.get_feeds(keys)
        read_database = time.perf_counter() - start
        start = time.perf_counter()
        for index in range(0, len(states), 500):
            await self.storage.apply_updates(
                [UpdateResult(state) for state in states[index : index + 500]]
            )
        write = time.perf_counter() - start
        n = len(states)
        self.result["breakdown"] = {
            "fetcher_only_seconds": round(min(ours), 3),
            "baseline_seconds": round(min(base), 3),
            "fetcher_only_ratio": round(min(ours) / min(base), 3),
            "feed_rows_read_us_per_feed": round(read / n * 1e6, 1),
            "feed_rows_read_from_database_us_per_feed": round(read_database / n * 1e6, 1),
            "feed_rows_write_us_per_feed": round(write / n * 1e6, 1),
        }
        print(
            f"  breakdown: Fetcher alone {min(ours):.2f} s vs aiohttp {min(base):.2f} s; "
            f"feed rows read {read / n * 1e6:.1f} µs (kept; {read_database / n * 1e6:.0f} µs "
            f"from the database), written {write / n * 1e6:.0f} µs per feed",
            flush=True,
        )


@contextlib.asynccontextmanager
async def parser_pool(mode: PoolMode) -> AsyncIterator[ParserPool]:
    pool = ParserPool(mode=mode)
    if mode != "inline":
        await pool.start()
    try:
        yield pool
    finally:
        await asyncio.to_thread(pool.close)


async def run(options: Options, server: FeedServer, database: str) -> dict[str, Any]:
    settings = bench_settings(server, options.feeds, database)
    storage = await Storage.open(database)
    client = await BaselineClient.start(
        server,
        settings,
        [server.url(i) for i in range(options.feeds)],
        default_gc=options.default_gc,
    )
    bench = Bench(options, server, settings, storage, client)
    bench.result.update(
        feeds=options.feeds,
        items_per_feed=20,
        feed_bytes=await asyncio.to_thread(_size, server.url(0)),
        hosts=len(server.hosts),
        concurrency=settings.polling.concurrency,
        per_host_concurrency=settings.polling.per_host_concurrency,
        database=database.split(":", 1)[0],
    )
    print(
        f"bench: {options.feeds} feeds on {len(server.hosts)} loopback hosts, "
        f"{bench.result['database']}, {os.cpu_count()} CPUs",
        flush=True,
    )
    try:
        with bench.pss:
            await cycles(bench)
    finally:
        await storage.close()
        await client.close()
    bench.result["rss"]["pss_peak_mb"] = round(bench.pss.peak_mb, 1)
    return bench.result


async def cycles(bench: Bench) -> None:
    """First sync, unchanged cycles against their baselines, 10% changed in each mode."""
    options, server, settings = bench.options, bench.server, bench.settings
    result, n = bench.result, options.feeds
    changed = round(n * 0.1)
    async with Fetcher(settings.polling) as fetcher, parser_pool("process") as pool:
        updater = Updater(settings, bench.storage, fetcher, pool)
        poller = Poller(settings, updater)
        if not options.default_gc:
            settle_collector()  # where the bot does it: once started, before its first cycle
        result["collector"] = "CPython's defaults" if options.default_gc else "the bot's"
        first = await bench.cycle(
            "cycle 1: first sync",
            poller,
            {"updated": n},
            profile=options.profile_path("first_sync"),
        )
        result["cycles"]["first_sync"] = first.as_json()
        result["server_ceiling"] = await bench.client.call("ceiling", etags=await bench.etags())
        await bench.unchanged("unchanged_304", poller, "not modified", "conditional_304")
        await bench.breakdown()

        server.control("/_control/change?fraction=0.1&added=2&seed=1")
        three = await bench.cycle(
            "cycle 3: 10% changed, process",
            poller,
            {"not modified": n - changed, "updated": changed},
            profile=options.profile_path("changed_10pct"),
        )
        result["cycles"]["changed_10pct_process"] = three.as_json()

        server.control("/_control/validators?on=0")
        # the first cycle without validators stores that (every feed row written): the
        # bot's work, its memory counts, but it is not the same-body cycle measured next
        await bench.cycle("dropping validators", poller, {"unchanged": n})
        await bench.unchanged("unchanged_same_body", poller, "unchanged", "plain_200")
        server.control("/_control/validators?on=1")
        workers = set(pool.worker_pids())
        result["rss"] = bench.memory.report(bench.others, workers)
        if options.modes:  # the comparisons last: their memory is not the bot's
            # validators back on: one cycle stores the ETags again (all 200, same body)
            await bench.cycle("restoring validators", poller, {"unchanged": n}, ours=False)
        for seed, mode in enumerate(options.modes, start=2):
            async with parser_pool(mode) as other:
                updater.parser = other  # same poller, caches and database: only parsing differs
                server.control(f"/_control/change?fraction=0.1&added=2&seed={seed}")
                other_cycle = await bench.cycle(
                    f"cycle 3: 10% changed, {mode}",
                    poller,
                    {"not modified": n - changed, "updated": changed},
                    ours=False,
                )
                result["cycles"][f"changed_10pct_{mode}"] = other_cycle.as_json()
        updater.parser = pool


def _size(url: str) -> int:
    with urllib.request.urlopen(url) as response:
        return len(response.read())


# --- databases ---------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(keep: bool) -> Iterator[str]:
    directory = Path(tempfile.mkdtemp(prefix="gatejumper-bench-"))
    try:
        yield f"sqlite:///{directory / 'bench.db'}"
    finally:
        if keep:
            print(f"bench: database kept in {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


@contextlib.asynccontextmanager
async def postgres_database(keep: bool) -> AsyncIterator[str]:
    import asyncpg

    name = f"gatejumper_bench_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise SystemExit(f"bench: PostgreSQL is not reachable at {POSTGRES_ADMIN}: {exc}") from None
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield POSTGRES_ADMIN.rpartition("/")[0] + "/" + name
    finally:
        if keep:
            print(f"bench: database {name} kept", file=sys.stderr)
        else:
            admin = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


# --- report ------------------------------------------------------------------


def verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else "MISS"


def figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    cycles, baselines = result["cycles"], result["baselines"]
    rows = []
    for cycle, base, label in (
        ("unchanged_304", "conditional_304", "unchanged cycle, 304 ÷ aiohttp conditional GET"),
        ("unchanged_same_body", "plain_200", "unchanged cycle, same body ÷ aiohttp GET"),
    ):
        if cycle in cycles and base in baselines:
            ours, theirs = cycles[cycle]["seconds"], min(baselines[base]["runs"])
            ratio = ours / theirs
            runs = len(cycles[cycle]["runs"])
            # each cycle against the baseline run just before it: less swayed by one lucky run
            paired = statistics.median(
                c / b for c, b in zip(cycles[cycle]["runs"], baselines[base]["runs"], strict=True)
            )
            rows.append(
                {
                    "figure": label,
                    "value": round(ratio, 2),
                    "unit": "×",
                    "target": f"≤ {TARGET_RATIO}",
                    "verdict": verdict(ratio, TARGET_RATIO),
                    "detail": f"{ours:.3f} s vs {theirs:.3f} s (best of {runs}); "
                    f"median of the {runs} paired ratios {paired:.2f}",
                    "paired_median": round(paired, 3),
                }
            )
    first = cycles["first_sync"]
    rows.append(
        {
            "figure": "first sync (every feed parsed and stored)",
            "value": first["feeds_per_second"],
            "unit": "feeds/s",
            "target": "",
            "verdict": "",
            "detail": f"{first['seconds']:.1f} s",
        }
    )
    changed = cycles["changed_10pct_process"]
    rows.append(
        {
            "figure": "throughput, 10% changed (process pool)",
            "value": changed["feeds_per_second"],
            "unit": "feeds/s",
            "target": "",
            "verdict": "",
            "detail": f"{changed['seconds']:.2f} s per cycle",
        }
    )
    for mode in ("process", "thread", "inline"):
        key = f"changed_10pct_{mode}"
        if key not in cycles:
            continue
        lag = cycles[key]["lag"]
        ours = mode == "process"
        rows.append(
            {
                "figure": f"event-loop lag p99, 10% changed, {mode}",
                "value": lag["p99_ms"],
                "unit": "ms",
                "target": f"≤ {TARGET_LAG_MS:g}" if ours else "(comparison)",
                "verdict": verdict(lag["p99_ms"], TARGET_LAG_MS) if ours else "",
                "detail": f"p50 {lag['p50_ms']} ms, max {lag['max_ms']} ms, "
                f"cycle {cycles[key]['seconds']:.2f} s",
            }
        )
    rss = result["rss"]
    applies = result["feeds"] >= RSS_TARGET_FEEDS
    rows.append(
        {
            "figure": f"peak RSS, bot + its child processes ({result['feeds']} feeds)",
            "value": rss["total_mb"],
            "unit": "MB",
            "target": f"≤ {TARGET_RSS_MB:g}" + ("" if applies else " at 10,000"),
            "verdict": verdict(rss["total_mb"], TARGET_RSS_MB) if applies else "",
            "detail": "sum of each process's peak: "
            + ", ".join(f"{p['role']} {p['peak_mb']}" for p in rss["processes"])
            + f"; peak of the summed PSS (shared pages counted once): {rss['pss_peak_mb']} MB",
        }
    )
    return rows


def print_table(result: dict[str, Any]) -> None:
    print()
    print(
        f"Gatejumper polling benchmark: {result['feeds']} feeds × {result['items_per_feed']} "
        f"items ({result['feed_bytes']} bytes each), {result['database']}, concurrency "
        f"{result['concurrency']}, {result['per_host_concurrency']} per host, "
        f"{result['hosts']} loopback hosts, {result['machine']['cpus']} CPUs"
        + (f" ({result['machine']['cpu']})" if "cpu" in result["machine"] else "")
    )
    width = max(len(row["figure"]) for row in result["figures"])
    for row in result["figures"]:
        value = f"{row['value']:g} {row['unit']}"
        print(
            f"  {row['figure']:<{width}}  {value:>13}  {row['target']:<18} {row['verdict']:<4}  "
            f"{row['detail']}"
        )
    ceiling = result["server_ceiling"]
    shares = {**result["baselines"], **result["cycles"]}
    print(
        f"  feed server: {ceiling['raw_client_304_per_second']:g} 304/s and "
        f"{ceiling['raw_client_200_per_second']:g} 200/s to a raw client; its CPU share: "
        + ", ".join(f"{k} {v['server_cpu_share']:.0%}" for k, v in shares.items())
    )
    if "breakdown" in result:
        b = result["breakdown"]
        print(
            f"  breakdown of an unchanged cycle: Fetcher alone ÷ aiohttp = "
            f"{b['fetcher_only_ratio']:g}; feed rows read {b['feed_rows_read_us_per_feed']:g} µs "
            f"(kept in memory; from the database "
            f"{b.get('feed_rows_read_from_database_us_per_feed', '?')} µs) "
            f"and written {b['feed_rows_write_us_per_feed']:g} µs per feed"
        )
    for message in result["expectations"]:
        print(f"  UNEXPECTED: {message}")


async def main_async(options: Options) -> dict[str, Any]:
    server = start_server(options.feeds, options.hosts)
    try:
        if options.database == "sqlite":
            with sqlite_database(options.keep) as url:
                return await run(options, server, url)
        async with postgres_database(options.keep) as url:
            return await run(options, server, url)
    finally:
        server.stop()


def main(options: Options) -> int:
    started = time.perf_counter()
    result = asyncio.run(main_async(options))
    result["machine"] = machine() | {"date": datetime.now(UTC).strftime("%Y-%m-%d")}
    result["figures"] = figures(result)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    print_table(result)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{options.name}.json"
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path  # --name /tmp/x
    print(f"bench: wrote {shown} ({result['wall_seconds']} s in all)")
    return 1 if result["expectations"] else 0
