"""Relay benchmark (issue 4): Discord reply → blog comment latency, and the drain of a backlog
written while the blog was down.

    .venv/bin/python bench/bench_relay.py            # 40 replies + a 50-reply backlog (~4 min)
    .venv/bin/python bench/bench_relay.py --quick    # 10 replies + a 10-reply backlog (~2 min)

The real path end to end: a real WordPress (tests.wp), the real ``bot.bridge.Gatejumper``
(relay cog, outbox on a SQLite file, guests approved, ``relay.retry_max`` 2 s) and the
wire-level Discord test server with Discord's real rate limits (``ServerConfig.realistic()``).
Replies are injected through the test server as a member writing in the post's thread; an
observer process (PHP, its own MariaDB connection, a query every 20 ms) notes when each
comment row appears in WordPress's database, outside the bot and the web server; the relay's
own calls to ``WordPressComments.create_comment`` are timed by a wrapper installed in this
process, and its "published" moment is its own log record. Prints its
figures next to baselines taken in the same run and writes ``bench/results/relay[-quick].json``.
Nothing here asserts timings; lost, duplicated or misordered comments print UNEXPECTED and
the exit status is 1.

1. Latency: replies one at a time (each waits for the previous comment to exist, then a random
   0.5-1.5 s); inject → comment row seen, and the relay's own times (accepted into the outbox,
   marked published). Baseline, interleaved: a plain authenticated aiohttp POST to
   ``wp/v2/comments`` with the same body shape, start → comment row seen.
2. Outage: the blog stopped (``php -S`` ended, connections refused), N replies written, the
   blog started again on the same port; restart → last comment seen, order, duplicates,
   losses, and when every message shows ✅. Baseline: N sequential plain POSTs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from _bridge import BLOG, Recorder, Stage, machine, percentile, stage, write_results  # noqa: E402

from bot.blogs import WordPressComments  # noqa: E402
from bot.bridge import Gatejumper  # noqa: E402
from bot.config import BlogConfig  # noqa: E402
from bot.storage import Relay  # noqa: E402
from tests.cogs.gatejumper import eventually  # noqa: E402
from tests.cogs.relay_setup import BridgedPost, blog_comments, bridged_post, relay_blog  # noqa: E402
from tests.discord_server import Message  # noqa: E402
from tests.wp import WordPress  # noqa: E402

RETRY_MAX = timedelta(seconds=2)
PER_USER_PER_MINUTE = 10_000  # one member writes every reply; the default (5) would refuse them
OBSERVE_EVERY_S = 0.02
TAG = re.compile(r"gjb-([a-z])-(\d+)")
PUBLISHED_LOG = re.compile(r"message (\d+) → comment (\S+) \((\w+)")
BASELINE_AUTHOR = "Plain POST (baseline)"
BASELINE_EMAIL = "noreply@gatejumper.invalid"  # what the relay sends for guests

# Runs next to WordPress, not through it: its own MariaDB connection, one indexed query per
# tick, a JSON line per new comment row with the moment the query returned (the same clock
# as time.time() here).
OBSERVER_PHP = r"""
mysqli_report(MYSQLI_REPORT_OFF);
$db = @mysqli_connect(getenv('GJ_HOST'), getenv('GJ_USER'), getenv('GJ_PASSWORD'),
    getenv('GJ_DB'), (int) getenv('GJ_PORT'));
if (!$db) { fwrite(STDERR, mysqli_connect_error()); exit(1); }
$last = 0;
$every = (int) getenv('GJ_EVERY_US');
echo json_encode(['ready' => microtime(true)]), "\n";
while (true) {
    $result = $db->query("SELECT comment_ID, comment_post_ID, comment_parent, comment_approved,"
        . " comment_content FROM wp_comments WHERE comment_ID > $last ORDER BY comment_ID");
    if (!$result) { fwrite(STDERR, $db->error); exit(1); }
    $now = microtime(true);
    foreach ($result->fetch_all() as $row) {
        $last = (int) $row[0];
        echo json_encode(['id' => $last, 'post' => (int) $row[1], 'parent' => (int) $row[2],
            'approved' => $row[3], 'content' => $row[4], 'seen' => $now]), "\n";
    }
    usleep($every);
}
"""


@dataclass(frozen=True)
class Seen:
    comment_id: int
    post_id: int
    parent: int
    approved: str
    tag: str | None
    at: float  # wall clock when the observer's query returned it


class Observer:
    """Notes when comment rows appear in WordPress's database (a PHP process polling it)."""

    def __init__(self, wp: WordPress, every: float = OBSERVE_EVERY_S) -> None:
        env = {
            "GJ_HOST": wp.db.host,
            "GJ_PORT": str(wp.db.port),
            "GJ_USER": wp.db.user,
            "GJ_PASSWORD": wp.db.password,
            "GJ_DB": wp.db_name,
            "GJ_EVERY_US": str(int(every * 1e6)),
        }
        self._process = subprocess.Popen(
            ["php", "-r", OBSERVER_PHP],
            env=env,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.rows: dict[int, Seen] = {}
        self.by_tag: dict[str, list[Seen]] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        assert self._process.stdout is not None
        self._reader = threading.Thread(
            target=self._read, args=(self._process.stdout,), daemon=True
        )
        self._reader.start()
        if not self._ready.wait(10):
            self.close()
            raise RuntimeError("the comment observer did not start (MariaDB reachable?)")

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            data = json.loads(line)
            if "ready" in data:
                self._ready.set()
                continue
            match = TAG.search(data["content"])
            tag = f"{match.group(1)}-{int(match.group(2))}" if match else None
            seen = Seen(
                data["id"], data["post"], data["parent"], data["approved"], tag, data["seen"]
            )
            with self._lock:
                self.rows[seen.comment_id] = seen
                if tag is not None:
                    self.by_tag.setdefault(tag, []).append(seen)

    def first(self, tag: str) -> Seen | None:
        with self._lock:
            found = self.by_tag.get(tag)
            return found[0] if found else None

    async def wait(self, tags: list[str], timeout: float) -> list[Seen]:  # noqa: ASYNC109
        """The first row of each tag, once every tag has one."""
        deadline = time.monotonic() + timeout
        while True:
            found = [self.first(t) for t in tags]
            if all(found):
                return [s for s in found if s is not None]
            if time.monotonic() > deadline:
                missing = [t for t, s in zip(tags, found, strict=True) if s is None]
                raise TimeoutError(f"comments never seen on the blog: {missing[:10]}")
            await asyncio.sleep(0.01)

    def close(self) -> None:
        self._process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(5)
        if self._process.poll() is None:
            self._process.kill()


def tag(kind: str, n: int) -> str:
    return f"{kind}-{n}"


def reply_text(kind: str, n: int) -> str:
    return f"Reply gjb-{kind}-{n:03d} from Discord: a few **words** about the post."


def ts(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(percentile(values, 50), 4),
        "p99_s": round(percentile(values, 99), 4),
        "max_s": round(max(values), 4),
        "mean_s": round(sum(values) / len(values), 4),
    }


class PostTimer:
    """Times the relay's own ``create_comment`` calls (wrapped in this process only), to split
    the relay's time between WordPress and the rest of the lane."""

    def __init__(self) -> None:
        self.calls: dict[str, tuple[float, float]] = {}  # tag -> (start, end) of the last call

    @contextlib.contextmanager
    def installed(self) -> Iterator[PostTimer]:
        original = WordPressComments.create_comment

        async def timed(client: WordPressComments, post: Any, content: str, **kw: Any) -> Any:
            start = time.time()
            try:
                return await original(client, post, content, **kw)
            finally:
                match = TAG.search(content)
                if match:
                    self.calls[f"{match.group(1)}-{int(match.group(2))}"] = (start, time.time())

        WordPressComments.create_comment = timed  # type: ignore[method-assign]
        try:
            yield self
        finally:
            WordPressComments.create_comment = original  # type: ignore[method-assign]


class PlainPoster:
    """The baseline: an authenticated POST to wp/v2/comments, the body the relay sends."""

    def __init__(self, wp: WordPress, session: aiohttp.ClientSession, post_id: int) -> None:
        self._url = wp.api_root + "wp/v2/comments"
        self._headers = {
            "Authorization": aiohttp.encode_basic_auth(wp.bot.login, wp.bot.app_password)
        }
        self._session = session
        self._post_id = post_id

    async def post(self, kind: str, n: int) -> tuple[float, float]:
        """Returns (wall clock before the request, after the response)."""
        body = {
            "post": self._post_id,
            "content": f"Reply gjb-{kind}-{n:03d} from a plain POST: a few "
            "<strong>words</strong> about the post.",
            "author_name": BASELINE_AUTHOR,
            "author_email": BASELINE_EMAIL,
            "status": "approved",
        }
        before = time.time()
        async with self._session.post(self._url, json=body, headers=self._headers) as response:
            text = await response.text()
            if response.status != 201:
                raise RuntimeError(f"baseline POST answered {response.status}: {text[:300]}")
        return before, time.time()


# -- set-up -------------------------------------------------------------------------------


async def baseline_post(bridged: BridgedPost, interval: float) -> int:
    """A second post for the baseline comments, announced (and threaded) during set-up, so
    that its thread and its comments' mirroring cost what they cost in production."""
    post_id = await asyncio.to_thread(
        bridged.wp.create_post, "Baseline: plain POSTs", "<p>The baseline's comments.</p>"
    )
    channel = bridged.server.world.announcements.id

    async def two_threads() -> bool:
        return len(bridged.server.threads(channel)) >= 2

    await eventually(two_threads, timeout=interval * 3 + 30, what="the baseline post's thread")
    return post_id


async def lane_idle(bot: Gatejumper, timeout: float = 120.0) -> None:  # noqa: ASYNC109
    """Every relay worked and its outcome shown in Discord."""

    async def idle() -> bool:
        storage = bot.core.storage
        return not await storage.open_relay_counts() and not await storage.relays_to_show(BLOG)

    await eventually(idle, timeout=timeout, what="the relay lane to be idle", every=0.05)


async def relays_of(bot: Gatejumper, messages: list[Message]) -> list[Relay | None]:
    return [await bot.core.storage.relay_of_message(m.id) for m in messages]


def published_times(log: Recorder) -> dict[int, float]:
    """Message id → when the relay logged it published (right after the outbox row says so).

    ``relays.updated_at`` is not used for this: the write that records the ✅ shown in
    Discord moves it later.
    """
    times: dict[int, float] = {}
    for created, name, message in log.records:
        match = PUBLISHED_LOG.search(message) if name == "bot.relay" else None
        if match:
            times.setdefault(int(match.group(1)), created)
    return times


# -- 1. latency ---------------------------------------------------------------------------


async def latency_phase(
    bridged: BridgedPost,
    observer: Observer,
    poster: PlainPoster,
    log: Recorder,
    timer: PostTimer,
    *,
    samples: int,
    rng: random.Random,
) -> dict[str, Any]:
    server, world = bridged.server, bridged.server.world
    injected: list[tuple[float, Message]] = []
    posted: list[tuple[float, float]] = []
    for n in range(samples):
        await asyncio.sleep(rng.uniform(0.5, 1.5))
        before = time.time()
        message = server.inject_message(bridged.thread, world.bob, reply_text("l", n))
        injected.append((before, message))
        await observer.wait([tag("l", n)], timeout=60)
        await asyncio.sleep(rng.uniform(0.5, 1.5))
        posted.append(await poster.post("p", n))
        await observer.wait([tag("p", n)], timeout=60)
    await lane_idle(bridged.bot)
    relays = await relays_of(bridged.bot, [m for _, m in injected])
    published = published_times(log)
    rows = []
    for n, ((before, message), relay) in enumerate(zip(injected, relays, strict=True)):
        seen = observer.first(tag("l", n))
        assert seen is not None and relay is not None
        accepted = ts(relay.created_at)
        done = published.get(message.id)
        previous = relays[n - 1] if n else None
        call = timer.calls.get(tag("l", n))
        rows.append(
            {
                "message_id": message.id,
                "comment_id": seen.comment_id,
                "inject_to_seen_s": round(seen.at - before, 4),
                "message_to_published_s": round(done - ts(message.created_at), 4) if done else None,
                "inject_to_accepted_s": round(accepted - before, 4),
                "accepted_to_published_s": round(done - accepted, 4) if done else None,
                "published_to_seen_s": round(seen.at - done, 4) if done else None,
                "accepted_to_post_start_s": round(call[0] - accepted, 4) if call else None,
                "relay_post_s": round(call[1] - call[0], 4) if call else None,
                "post_end_to_published_s": round(done - call[1], 4) if call and done else None,
                "message_to_feedback_shown_s": round(ts(relay.updated_at) - before, 4),
                "lane_busy_with_previous_s": round(
                    max(0.0, ts(previous.updated_at) - accepted) if previous else 0.0, 4
                ),
            }
        )
    baseline = []
    for n, (before, after) in enumerate(posted):
        seen = observer.first(tag("p", n))
        assert seen is not None
        baseline.append(
            {
                "comment_id": seen.comment_id,
                "post_to_seen_s": round(seen.at - before, 4),
                "round_trip_s": round(after - before, 4),
            }
        )
    figures = latency_figures(rows, baseline)
    figures["duplicated"] = [
        t for t in (tag("l", n) for n in range(samples)) if len(observer.by_tag.get(t, ())) > 1
    ]
    return figures


def latency_figures(rows: list[dict[str, Any]], baseline: list[dict[str, Any]]) -> dict[str, Any]:
    def column(table: list[dict[str, Any]], key: str) -> list[float]:
        return [r[key] for r in table if r[key] is not None]

    relay = summary(column(rows, "inject_to_seen_s"))
    plain = summary(column(baseline, "post_to_seen_s"))
    processing = summary(column(rows, "message_to_published_s"))
    round_trip = summary(column(baseline, "round_trip_s"))
    return {
        "samples": len(rows),
        "spacing_s": [0.5, 1.5],
        "observer_every_s": OBSERVE_EVERY_S,
        "end_to_end": relay,
        "relay_processing": processing,
        "inject_to_accepted": summary(column(rows, "inject_to_accepted_s")),
        "accepted_to_published": summary(column(rows, "accepted_to_published_s")),
        "published_to_seen": summary(column(rows, "published_to_seen_s")),
        "accepted_to_post_start": summary(column(rows, "accepted_to_post_start_s")),
        "relay_post": summary(column(rows, "relay_post_s")),
        "post_end_to_published": summary(column(rows, "post_end_to_published_s")),
        "message_to_feedback_shown": summary(column(rows, "message_to_feedback_shown_s")),
        "lane_busy_with_previous_count": sum(r["lane_busy_with_previous_s"] > 0 for r in rows),
        "baseline_post_to_seen": plain,
        "baseline_round_trip": round_trip,
        "ratio_p50_end_to_end": round(relay["p50_s"] / plain["p50_s"], 3),
        "ratio_p50_processing_to_round_trip": round(processing["p50_s"] / round_trip["p50_s"], 3),
        "replies": rows,
        "baseline": baseline,
    }


# -- 2. outage and drain --------------------------------------------------------------------


async def outage_phase(
    bridged: BridgedPost,
    observer: Observer,
    log: Recorder,
    timer: PostTimer,
    *,
    backlog: int,
    outage: float,
) -> dict[str, Any]:
    server, world, wp, bot = bridged.server, bridged.server.world, bridged.wp, bridged.bot
    await lane_idle(bot)
    first_log = len(log.records)
    down = time.time()
    await asyncio.to_thread(wp.stop)
    down_took = time.time() - down
    messages = []
    for n in range(backlog):
        answer = bridged.mirrored[1] if n % 10 == 9 else None  # every tenth answers Evan
        messages.append(
            server.inject_message(bridged.thread, world.bob, reply_text("d", n), reply_to=answer)
        )
    injected = time.time()

    async def recorded() -> bool:
        return all(await relays_of(bot, messages))

    await eventually(recorded, timeout=60, what="the backlog in the outbox", every=0.05)
    outboxed = time.time()
    await asyncio.sleep(max(0.0, down + outage - time.time()))
    restart = time.time()
    await asyncio.to_thread(wp.start)
    up = time.time()
    first_request = len(server.requests)
    seen = await observer.wait([tag("d", n) for n in range(backlog)], timeout=backlog * 10 + 60)
    await lane_idle(bot, timeout=backlog * 5 + 60)
    shown = await feedback_shown(bridged, messages, timeout=backlog * 5 + 60)
    relays = await relays_of(bot, messages)
    published = published_times(log)
    times = [s.at for s in seen]
    last, first = max(times), min(times)
    gaps = [b - a for a, b in itertools.pairwise(sorted(times))]
    retries = [
        (created, message)
        for created, name, message in log.records[first_log:]
        if name == "bot.relay" and " waits " in message
    ]
    feedback = [
        ts(r.updated_at) - published[r.message_id]
        for r in relays
        if r is not None and r.message_id in published
    ]
    feedback_before_last = feedback[:-1]  # the last comment's feedback comes after the drain
    discord = discord_during(bridged, first_request, up, last)
    posts = [timer.calls[t] for t in (tag("d", n) for n in range(backlog)) if t in timer.calls]
    in_wordpress = sum(end - start for start, end in posts if start >= up)
    return {
        "backlog": backlog,
        "outage_s": round(restart - down, 3),
        "stop_took_s": round(down_took, 3),
        "inject_s": round(injected - down - down_took, 3),
        "outboxed_after_stop_s": round(outboxed - down, 3),
        "start_took_s": round(up - restart, 3),
        "retry_max_s": RETRY_MAX.total_seconds(),
        "attempts_while_down": len(retries),
        "last_backoff_s": _last_backoff(retries),
        "restart_to_first_s": round(first - up, 3),
        "restart_to_last_s": round(last - up, 3),
        "first_to_last_s": round(last - first, 3),
        "comments_per_s": round(backlog / (last - up), 3),
        "steady_comments_per_s": round((backlog - 1) / (last - first), 3) if backlog > 1 else None,
        "gap_p50_s": round(percentile(gaps, 50), 4) if gaps else None,
        "gap_max_s": round(max(gaps), 4) if gaps else None,
        "feedback_per_comment": summary(feedback) if feedback else None,
        "feedback_total_s": round(sum(feedback), 3),
        "feedback_before_last_comment_s": round(sum(feedback_before_last), 3),
        "relay_posts_after_restart_s": round(in_wordpress, 3),
        "restart_to_all_feedback_shown_s": round(shown - up, 3),
        "discord_during_drain": discord,
        "checks": check_backlog(bridged, messages, relays, seen),
        "seen_after_restart_s": [round(t - up, 4) for t in times],
    }


def _last_backoff(retries: list[tuple[float, str]]) -> float | None:
    if not retries:
        return None
    match = re.search(r"waits ([\d.]+)s", retries[-1][1])
    return float(match.group(1)) if match else None


async def feedback_shown(bridged: BridgedPost, messages: list[Message], timeout: float) -> float:  # noqa: ASYNC109
    """When every message carries the bot's ✅ and has its link reply."""
    bot_id = bridged.server.world.bot.id

    async def done() -> bool:
        for message in messages:
            current = bridged.server.message(message.id)
            if bot_id not in current.reactions.get("✅", ()):
                return False
        replied = {m.reference_id for m in bridged.thread_messages() if m.author.id == bot_id}
        return all(m.id in replied for m in messages)

    await eventually(done, timeout=timeout, what="✅ on every backlog message", every=0.05)
    return time.time()


def discord_during(
    bridged: BridgedPost, first_request: int, start: float, end: float
) -> dict[str, Any]:
    """The bot's Discord calls between the restart and the last comment."""
    requests = [r for r in bridged.server.requests[first_request:] if start <= r.wall <= end]
    replies = [r for r in requests if r.route == "POST /channels/{channel_id}/messages"]
    reactions = [r for r in requests if r.route and "/reactions/" in r.route]
    return {
        "requests": len(requests),
        "feedback_replies": len(replies),
        "reactions": len(reactions),
        "status_429": sum(r.status == 429 for r in requests),
    }


def check_backlog(
    bridged: BridgedPost,
    messages: list[Message],
    relays: list[Relay | None],
    seen: list[Seen],
) -> dict[str, Any]:
    """Each message once on the blog, in message order, under the right parent, published."""
    comments = blog_comments(bridged.wp, bridged.post_id)
    counts: dict[str, int] = {}
    ids: dict[str, int] = {}
    for comment in comments:
        match = TAG.search(comment["content"])
        if match and match.group(1) == "d":
            key = tag("d", int(match.group(2)))
            counts[key] = counts.get(key, 0) + 1
            ids.setdefault(key, comment["id"])
    wanted = [tag("d", n) for n in range(len(messages))]
    lost = [t for t in wanted if t not in counts]
    duplicated = [t for t in wanted if counts.get(t, 0) > 1]
    order = [ids[t] for t in wanted if t in ids]
    parents = {c["id"]: c["parent"] for c in comments}
    evan = bridged.comment_ids[1]
    wrong_parent = [
        t
        for n, t in enumerate(wanted)
        if t in ids and parents[ids[t]] != (evan if n % 10 == 9 else 0)
    ]
    not_published = [
        m.id for m, r in zip(messages, relays, strict=True) if r is None or r.status != "published"
    ]
    mismatched = [
        t
        for t, r in zip(wanted, relays, strict=True)
        if r is not None and t in ids and r.comment_id != str(ids[t])
    ]
    not_approved = [
        c["id"] for c in comments if TAG.search(c["content"]) and c["status"] != "approved"
    ]
    return {
        "lost": lost,
        "duplicated": duplicated,
        "in_message_order": order == sorted(order),
        "wrong_parent": wrong_parent,
        "not_published_in_outbox": not_published,
        "outbox_comment_id_mismatch": mismatched,
        "not_approved": not_approved,
        "seen_by_observer": len(seen),
    }


async def baseline_drain(observer: Observer, poster: PlainPoster, size: int) -> dict[str, Any]:
    """The ideal drain: ``size`` plain POSTs one after the other, nothing else."""
    start = time.time()
    for n in range(size):
        await poster.post("b", n)
    seen = await observer.wait([tag("b", n) for n in range(size)], timeout=size * 5 + 30)
    last = max(s.at for s in seen)
    return {
        "size": size,
        "first_post_to_last_seen_s": round(last - start, 3),
        "comments_per_s": round(size / (last - start), 3),
    }


# -- the run -------------------------------------------------------------------------------


def configure_logging() -> Recorder:
    """The relay's INFO records are kept (they time "published"); stderr gets errors only."""
    errors = logging.StreamHandler()
    errors.setLevel(logging.ERROR)
    logging.getLogger().addHandler(errors)
    logging.getLogger().setLevel(logging.ERROR)
    for name, level in (
        ("bot", logging.INFO),
        ("cogs", logging.WARNING),
        ("discord", logging.WARNING),
    ):
        logging.getLogger(name).setLevel(level)
    return Recorder(logging.INFO).attach()


async def measure(setup: Stage, args: argparse.Namespace, log: Recorder) -> dict[str, Any]:
    rng = random.Random(args.seed)
    channel = setup.server.world.announcements.id
    blog = relay_blog(
        setup.wp,
        channel,
        guests="approved",
        retry_max=RETRY_MAX,
        per_user_per_minute=PER_USER_PER_MINUTE,
    )
    observer = await asyncio.to_thread(Observer, setup.wp)
    try:
        with PostTimer().installed() as timer:
            figures = await phases(setup, args, log, blog, observer, timer, rng)
    finally:
        observer.close()
    return figures


async def phases(
    setup: Stage,
    args: argparse.Namespace,
    log: Recorder,
    blog: BlogConfig,
    observer: Observer,
    timer: PostTimer,
    rng: random.Random,
) -> dict[str, Any]:
    async with (
        bridged_post(
            setup.wp, setup.server, setup.database, blog, interval=args.interval
        ) as bridged,
        aiohttp.ClientSession() as session,
    ):
        poster = PlainPoster(setup.wp, session, await baseline_post(bridged, args.interval))
        print(
            f"set-up: WordPress {setup.provision_s:.1f} s, bot ready, thread {bridged.thread.id}",
            flush=True,
        )
        latency = await latency_phase(
            bridged, observer, poster, log, timer, samples=args.samples, rng=rng
        )
        print_latency(latency)
        drain = await outage_phase(
            bridged, observer, log, timer, backlog=args.backlog, outage=args.outage
        )
        drain["baseline"] = await baseline_drain(observer, poster, args.backlog)
        base = drain["baseline"]["first_post_to_last_seen_s"]
        drain["ratio_drain_to_baseline"] = round(drain["restart_to_last_s"] / base, 3)
        drain["ratio_steady_to_baseline"] = round(drain["first_to_last_s"] / base, 3)
        print_drain(drain)
    return {"latency": latency, "drain": drain}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    log = configure_logging()
    started = time.monotonic()
    async with stage("gj-bench-relay-") as setup:
        figures = await measure(setup, args, log)
    warnings = [f"{name}: {msg}" for _, name, msg in log.records if "→ comment" not in msg]
    return {
        "name": "relay-quick" if args.quick else "relay",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "run_s": round(time.monotonic() - started, 1),
        "poll_interval_s": args.interval,
        "retry_max_s": RETRY_MAX.total_seconds(),
        **figures,
        "test_server": setup.test_server_problems(),
        "bot_log": warnings[:40],
    }


def unexpected(results: dict[str, Any]) -> list[str]:
    checks = results["drain"]["checks"]
    problems = [
        f"{name}: {checks[name]}"
        for name in (
            "lost",
            "duplicated",
            "wrong_parent",
            "not_published_in_outbox",
            "outbox_comment_id_mismatch",
            "not_approved",
        )
        if checks[name]
    ]
    if results["latency"]["duplicated"]:
        problems.append(f"latency replies duplicated: {results['latency']['duplicated']}")
    if not checks["in_message_order"]:
        problems.append("comment ids are not in message order")
    if results["test_server"]["internal_errors"] or results["test_server"]["unknown_routes"]:
        problems.append(f"Discord test server: {results['test_server']}")
    return problems


# -- output ---------------------------------------------------------------------------------


def _line(label: str, s: dict[str, float]) -> str:
    return (
        f"   {label:<44} p50 {s['p50_s'] * 1000:7.1f} ms   p99 {s['p99_s'] * 1000:7.1f} ms   "
        f"max {s['max_s'] * 1000:7.1f} ms"
    )


def print_latency(r: dict[str, Any]) -> None:
    print(
        f"\n1. Discord reply -> comment on the blog, {r['samples']} replies one at a time "
        "(0.5-1.5 s after the previous one exists), blog up"
    )
    print(_line("end to end (inject -> row seen, 20 ms polls)", r["end_to_end"]))
    print(_line("relay processing (message -> published)", r["relay_processing"]))
    print(_line("  inject -> in the outbox (gateway, accept)", r["inject_to_accepted"]))
    print(_line("  outbox -> published (lane, POST, store)", r["accepted_to_published"]))
    print(_line("    outbox -> relay's POST starts", r["accepted_to_post_start"]))
    print(_line("    the relay's POST (WordPress)", r["relay_post"]))
    print(_line("    POST answered -> published (store)", r["post_end_to_published"]))
    print(_line("  published -> row seen (observer lag)", r["published_to_seen"]))
    print(_line("baseline: plain POST -> row seen", r["baseline_post_to_seen"]))
    print(_line("baseline: plain POST round trip", r["baseline_round_trip"]))
    print(
        f"   ratio p50 end to end / plain POST {r['ratio_p50_end_to_end']:.2f}   "
        f"p50 processing / POST round trip {r['ratio_p50_processing_to_round_trip']:.2f}"
    )
    print(
        _line("(message -> ✅ and link reply in Discord)", r["message_to_feedback_shown"])
        + f"   lane still busy with the previous reply's feedback: "
        f"{r['lane_busy_with_previous_count']} of {r['samples']}",
        flush=True,
    )


def print_drain(r: dict[str, Any]) -> None:
    b = r["baseline"]
    print(
        f"\n2. outage: blog down {r['outage_s']:.1f} s, {r['backlog']} replies written meanwhile "
        f"(all in the outbox {r['outboxed_after_stop_s']:.2f} s after the stop); "
        f"{r['attempts_while_down']} attempts while down, last backoff {r['last_backoff_s']} s "
        f"(retry_max {r['retry_max_s']:.0f} s)"
    )
    print(
        f"   restart (answers, {r['start_took_s']:.2f} s to start) -> first comment "
        f"{r['restart_to_first_s']:.2f} s -> last {r['restart_to_last_s']:.2f} s   "
        f"{r['comments_per_s']:.2f} comments/s ({r['steady_comments_per_s']} /s first -> last)"
    )
    print(
        f"   baseline: {b['size']} sequential plain POSTs {b['first_post_to_last_seen_s']:.2f} s "
        f"= {b['comments_per_s']:.2f} comments/s   ratio drain / baseline "
        f"{r['ratio_drain_to_baseline']:.2f} (first -> last: {r['ratio_steady_to_baseline']})"
    )
    fb = r["feedback_per_comment"]
    d = r["discord_during_drain"]
    print(
        f"   gaps p50 {r['gap_p50_s']} s max {r['gap_max_s']} s; Discord feedback per comment "
        f"(published -> ✅ and reply recorded) p50 {fb['p50_s'] if fb else '-'} s "
        f"max {fb['max_s'] if fb else '-'} s, {r['feedback_before_last_comment_s']:.1f} s of "
        f"the drain (the relay's POSTs: {r['relay_posts_after_restart_s']:.1f} s); "
        f"during the drain {d['feedback_replies']} replies, {d['reactions']} reactions, "
        f"{d['status_429']} 429s"
    )
    print(f"   restart -> ✅ on every message {r['restart_to_all_feedback_shown_s']:.2f} s")
    c = r["checks"]
    print(
        f"   checks: lost {len(c['lost'])}, duplicated {len(c['duplicated'])}, in message order "
        f"{c['in_message_order']}, wrong parent {len(c['wrong_parent'])}, not published "
        f"{len(c['not_published_in_outbox'])}",
        flush=True,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Gatejumper relay benchmark (issue 4)")
    parser.add_argument("--quick", action="store_true", help="10 replies and a 10-reply backlog")
    parser.add_argument("--samples", type=int, help="latency samples (default 40, quick 10)")
    parser.add_argument("--backlog", type=int, help="replies written while down (50, quick 10)")
    parser.add_argument("--outage", type=float, default=10.0, help="blog down for at least, s")
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval, s (10)")
    parser.add_argument("--seed", type=int, default=4, help="random seed for the spacing")
    args = parser.parse_args(argv)
    args.samples = args.samples or (10 if args.quick else 40)
    args.backlog = args.backlog or (10 if args.quick else 50)
    if args.samples < 1 or args.backlog < 2 or args.interval <= 0:
        parser.error("--samples >= 1, --backlog >= 2 and --interval > 0 please")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = asyncio.run(run(args))
    problems = unexpected(results)
    results["unexpected"] = problems
    out = write_results(results)
    for problem in problems:
        print(f"UNEXPECTED {problem}")
    print(f"\nwrote {out} (run {results['run_s']:.0f} s)")
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
