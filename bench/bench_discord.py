"""Discord-side benchmark (issue 3): comment-to-message latency and burst delivery rate.

    .venv/bin/python bench/bench_discord.py            # 20 comments + a 200-comment burst (~4 min)
    .venv/bin/python bench/bench_discord.py --quick    # 5 comments + a 20-comment burst (~1 min)

The real path end to end: a real WordPress (tests.wp), the real ``bot.bridge.Gatejumper``
(scheduler, announcer cog, discord.py, webhooks) and the wire-level Discord test server with
Discord's real rate limits (``ServerConfig.realistic()``). Prints its figures next to the
baseline taken in the same run and writes them to ``bench/results/discord[-quick].json``.
Nothing here asserts timings.

1. Latency: comments published one at a time at random moments (3-7 s apart); latency is the
   message's ``created_at`` on the test server minus the moment the insert returned in this
   process. Baseline: half the poll interval, the mean wait for the next poll.
2. Burst: N comments inserted in one batch; from the first comment message to the last, the
   achieved messages/s against the webhook-execute limit the server enforces, the gaps
   between consecutive messages against that limit's window, and the 429s in the request log.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import random
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from _bridge import BLOG, Recorder, machine, percentile, stage, write_results  # noqa: E402

from bot.bridge import Gatejumper  # noqa: E402
from tests.cogs.gatejumper import (  # noqa: E402
    EXECUTE_WEBHOOK,
    blog_config,
    bridge_settings,
    eventually,
    polled_once,
    running_bridge,
)
from tests.discord_server import DiscordTestServer, Message  # noqa: E402
from tests.wp import WordPress  # noqa: E402

IDLE_TOLERANCE = 1.05  # a gap up to 5% over the window is the client waiting for the reset
COMMENT_LINK = re.compile(r"#comment-(\d+)>")


@dataclass
class Published:
    comment_id: int
    before: float  # wall clock before the insert started
    at: float  # wall clock right after the insert returned


def comment_messages(server: DiscordTestServer, thread: int) -> dict[int, Message]:
    """Thread messages by the WordPress comment id they link to (first part of each)."""
    found: dict[int, Message] = {}
    for message in server.messages(thread):
        match = COMMENT_LINK.search(message.content)
        if match:
            found.setdefault(int(match.group(1)), message)
    return found


def comment(n: int, tag: str) -> dict[str, Any]:
    return {
        "post_id": 0,  # set by the caller
        "author": f"Reader {tag}{n}",
        "email": f"reader-{tag}{n}@example.com",
        "url": "",
        "content": f"<p>Bench comment {tag}{n}: a few words about the post.</p>",
        "parent": 0,
        "date_gmt": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "type": "comment",
        "status": "approved",
        "user": None,
    }


async def wait_messages(
    server: DiscordTestServer,
    thread: int,
    ids: list[int],
    timeout: float,  # noqa: ASYNC109
) -> dict[int, Message]:
    async def done() -> dict[int, Message] | None:
        found = comment_messages(server, thread)
        return found if all(i in found for i in ids) else None

    return await eventually(done, timeout=timeout, what=f"{len(ids)} comment messages", every=0.05)


async def open_thread(
    server: DiscordTestServer, wp: WordPress, channel: int, interval: float
) -> tuple[int, int, float]:
    """Publish a post and a first comment and let the scheduled poll find them (set-up).

    The first comment makes the bot create the channel's webhook, a one-time cost kept out
    of the samples. No poll is forced: a forced poll would put the stored next-poll times
    out of step with the schedule and make the next scheduled poll skip the blog.
    Returns (post id, thread id, seconds from publishing that comment to its message).
    """
    post_id = await asyncio.to_thread(wp.create_post, "Benchmarking the bridge", "<p>A post.</p>")
    warm = await publish(wp, post_id, 0, "w")

    async def thread() -> int | None:
        threads = server.threads(channel)
        return threads[0].id if threads else None

    thread_id = await eventually(thread, timeout=interval * 3 + 30, what="the post's thread")
    found = await wait_messages(server, thread_id, [warm.comment_id], timeout=interval * 3 + 30)
    return post_id, thread_id, found[warm.comment_id].created_at.timestamp() - warm.at


async def latency_phase(
    bot: Gatejumper,
    server: DiscordTestServer,
    wp: WordPress,
    post_id: int,
    thread: int,
    *,
    samples: int,
    interval: float,
    polls: list[float],
    rng: random.Random,
    warm_latency: float,
) -> dict[str, Any]:

    published: list[Published] = []
    for n in range(samples):
        await asyncio.sleep(rng.uniform(3.0, 7.0))
        published.append(await publish(wp, post_id, n, "l"))
    found = await wait_messages(
        server, thread, [p.comment_id for p in published], timeout=interval * 3 + 30
    )
    rows = []
    for p in published:
        shown = found[p.comment_id].created_at.timestamp()
        poll = next((t for t in polls if t >= p.at), None)
        rows.append(
            {
                "comment_id": p.comment_id,
                "insert_s": round(p.at - p.before, 3),
                "latency_s": round(shown - p.at, 3),
                "wait_for_poll_end_s": round(poll - p.at, 3) if poll else None,
                "poll_end_to_message_s": round(shown - poll, 3) if poll else None,
            }
        )
    latencies = [r["latency_s"] for r in rows]
    after_poll = [
        r["poll_end_to_message_s"] for r in rows if r["poll_end_to_message_s"] is not None
    ]
    p50 = percentile(latencies, 50)
    # committed while a poll was in flight: that poll ends just after, the next one sees it
    in_flight = [
        r
        for r in rows
        if r["wait_for_poll_end_s"] is not None
        and r["wait_for_poll_end_s"] < 0.5
        and r["poll_end_to_message_s"] > interval / 2
    ]
    return {
        "interval_s": interval,
        "samples": samples,
        "warmup_latency_s": round(warm_latency, 3),
        "p50_s": p50,
        "p99_s": percentile(latencies, 99),
        "max_s": max(latencies),
        "mean_s": round(sum(latencies) / len(latencies), 3),
        "baseline_interval_half_s": interval / 2,
        "ratio_p50_to_interval_half": round(p50 / (interval / 2), 3),
        "poll_end_to_message_p50_s": percentile(after_poll, 50) if after_poll else None,
        "poll_end_to_message_max_s": max(after_poll) if after_poll else None,
        "missed_by_poll_in_flight": len(in_flight),
        "insert_p50_s": percentile([r["insert_s"] for r in rows], 50),
        "comments": rows,
    }


async def publish(wp: WordPress, post_id: int, n: int, tag: str) -> Published:
    row = comment(n, tag) | {"post_id": post_id}
    before = time.time()
    [comment_id] = await asyncio.to_thread(wp.create_comments, [row])
    return Published(comment_id, before, time.time())


async def burst_phase(
    server: DiscordTestServer,
    wp: WordPress,
    post_id: int,
    thread: int,
    *,
    size: int,
    interval: float,
    log: Recorder,
) -> dict[str, Any]:
    bucket, limit = server.config.rate_limits.bucket_for(EXECUTE_WEBHOOK)
    rows = [comment(n, "b") | {"post_id": post_id} for n in range(size)]
    first_request = len(server.requests)
    first_log = len(log.records)
    before = time.time()
    ids = await asyncio.to_thread(wp.create_comments, rows)
    inserted = time.time()
    timeout = interval * 2 + size * limit.per / limit.requests * 3 + 30
    found = await wait_messages(server, thread, ids, timeout=timeout)
    times = sorted(found[i].created_at.timestamp() for i in ids)
    span = times[-1] - times[0]
    achieved = (size - 1) / span if span > 0 else float("inf")
    nominal = limit.requests / limit.per
    # fixed windows that start with the first request: N messages need ceil(N/r) windows, the
    # last message can go at the start of the last one
    windows = -(-size // limit.requests)
    ideal = (size - 1) / ((windows - 1) * limit.per) if windows > 1 else float("inf")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    requests = server.requests[first_request:]
    too_many = [r for r in requests if r.status == 429]
    webhook_429 = [r for r in too_many if r.route == EXECUTE_WEBHOOK]
    long_gaps = []
    for a, b in itertools.pairwise(times):
        if b - a > limit.per * IDLE_TOLERANCE:
            explained = any(a <= r.wall <= b for r in too_many)
            long_gaps.append(
                {
                    "at_s": round(a - times[0], 3),
                    "gap_s": round(b - a, 3),
                    "explained_by_429": explained,
                }
            )
    executes = [r for r in requests if r.route == EXECUTE_WEBHOOK]
    return {
        "size": size,
        "limit": {"bucket": bucket, "requests": limit.requests, "per_s": limit.per},
        "global_limit": (
            {
                "requests": server.config.rate_limits.global_limit.requests,
                "per_s": server.config.rate_limits.global_limit.per,
            }
            if server.config.rate_limits.global_limit
            else None
        ),
        "insert_s": round(inserted - before, 3),
        "insert_to_first_message_s": round(times[0] - inserted, 3),
        "insert_to_last_message_s": round(times[-1] - inserted, 3),
        "first_to_last_s": round(span, 3),
        "achieved_per_s": round(achieved, 3),
        "nominal_limit_per_s": nominal,
        "ideal_first_to_last_per_s": round(ideal, 3),
        "achieved_vs_nominal": round(achieved / nominal, 3),
        "achieved_vs_ideal": round(achieved / ideal, 3),
        "gap_p50_s": round(percentile(gaps, 50), 3),
        "gap_p99_s": round(percentile(gaps, 99), 3),
        "gap_max_s": round(max(gaps), 3),
        "gaps_over_window": sum(g > limit.per for g in gaps),
        "gaps_over_window_plus_5pct": len(long_gaps),
        "idle_gaps": [g for g in long_gaps if not g["explained_by_429"]],
        "long_gaps": long_gaps,
        "requests_during_burst": len(requests),
        "webhook_executes": len(executes),
        "status_429_total": len(too_many),
        "status_429_webhook": len(webhook_429),
        "status_429_routes": sorted({str(r.route) for r in too_many}),
        "message_times_s": [round(t - times[0], 3) for t in times],
        "executes": [
            {
                "at_s": round(r.wall - times[0], 3),
                "took_s": round(r.finished - r.at, 4),
                "status": r.status,
                "remaining": r.headers.get("X-RateLimit-Remaining"),
                "reset_after": r.headers.get("X-RateLimit-Reset-After"),
            }
            for r in executes
        ],
        "bot_warnings": [f"{name}: {msg}" for _, name, msg in log.records[first_log:]][:20],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    interval = args.interval
    log = Recorder().attach()
    logging.basicConfig(level=logging.ERROR)
    started = time.monotonic()
    async with stage("gj-bench-discord-") as setup:
        server, wp = setup.server, setup.wp
        channel = server.world.announcements.id
        settings = bridge_settings(
            server, setup.database, [blog_config(wp, channel)], interval=interval
        )
        async with running_bridge(settings, server) as bot:
            polls: list[float] = []

            async def polled(_blog: str) -> None:
                polls.append(time.time())

            bot.add_listener(polled, "on_events_stored")
            await polled_once(bot)
            post_id, thread, warm = await open_thread(server, wp, channel, interval)
            print(
                f"set-up: WordPress {setup.provision_s:.1f} s, bot ready, thread {thread}",
                flush=True,
            )
            latency = await latency_phase(
                bot,
                server,
                wp,
                post_id,
                thread,
                samples=args.samples,
                interval=interval,
                polls=polls,
                rng=rng,
                warm_latency=warm,
            )
            print_latency(latency)
            burst = await burst_phase(
                server, wp, post_id, thread, size=args.burst, interval=interval, log=log
            )
            print_burst(burst)
            lane = bot.announcer.lane_status(BLOG)
            burst["lane_status_after"] = repr(lane)
    return {
        "name": "discord-quick" if args.quick else "discord",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "run_s": round(time.monotonic() - started, 1),
        "latency": latency,
        "burst": burst,
        "test_server": setup.test_server_problems(),
    }


def print_latency(r: dict[str, Any]) -> None:
    print(
        f"\n1. comment published -> Discord message, poll interval {r['interval_s']:.0f} s, "
        f"{r['samples']} comments 3-7 s apart"
    )
    print(
        f"   latency p50 {r['p50_s']:.2f} s   p99 {r['p99_s']:.2f} s   max {r['max_s']:.2f} s   "
        f"mean {r['mean_s']:.2f} s"
    )
    print(
        f"   baseline interval/2 = {r['baseline_interval_half_s']:.1f} s   "
        f"p50 / (interval/2) = {r['ratio_p50_to_interval_half']:.2f}"
    )
    if r["poll_end_to_message_p50_s"] is not None:
        print(
            f"   end of the poll that saw it -> message: p50 {r['poll_end_to_message_p50_s']:.3f} s"
            f"   max {r['poll_end_to_message_max_s']:.3f} s"
        )
    print(
        f"   committed while a poll was in flight (seen one poll later): "
        f"{r['missed_by_poll_in_flight']} of {r['samples']}"
    )
    print(
        f"   (insert call p50 {r['insert_p50_s']:.2f} s; set-up comment published -> message "
        f"incl. post, thread and webhook creation {r['warmup_latency_s']:.2f} s, "
        "not in the samples)",
        flush=True,
    )


def print_burst(r: dict[str, Any]) -> None:
    lim = r["limit"]
    print(f"\n2. burst of {r['size']} comments (one insert, {r['insert_s']:.2f} s)")
    print(
        f"   server limit {lim['bucket']}: {lim['requests']} per {lim['per_s']:.1f} s "
        f"= {r['nominal_limit_per_s']:.2f} msg/s (ideal first->last for {r['size']} in fixed "
        f"windows: {r['ideal_first_to_last_per_s']:.2f} msg/s)"
    )
    print(
        f"   insert -> first message {r['insert_to_first_message_s']:.2f} s, "
        f"-> last {r['insert_to_last_message_s']:.2f} s; first -> last {r['first_to_last_s']:.2f} s"
    )
    print(
        f"   achieved {r['achieved_per_s']:.3f} msg/s = {r['achieved_vs_nominal']:.1%} of limit "
        f"({r['achieved_vs_ideal']:.1%} of ideal); target >= 90%"
    )
    print(
        f"   gaps p50 {r['gap_p50_s']:.3f} s   p99 {r['gap_p99_s']:.3f} s   "
        f"max {r['gap_max_s']:.3f} s"
        f"   (window {lim['per_s']:.1f} s); gaps over the window: {r['gaps_over_window']}, "
        f"over window+5%: {r['gaps_over_window_plus_5pct']}, "
        f"idle (those with no 429 in them): {len(r['idle_gaps'])}"
    )
    print(
        f"   requests {r['requests_during_burst']} ({r['webhook_executes']} webhook executes), "
        f"429s {r['status_429_total']} (webhook {r['status_429_webhook']}) {r['status_429_routes']}"
    )
    for w in r["bot_warnings"][:5]:
        print(f"   bot warning: {w}")
    sys.stdout.flush()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Gatejumper Discord-side benchmark (issue 3)")
    parser.add_argument("--quick", action="store_true", help="5 comments and a 20-comment burst")
    parser.add_argument("--samples", type=int, help="latency samples (default 20, quick 5)")
    parser.add_argument("--burst", type=int, help="burst size (default 200, quick 20)")
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval, s (10)")
    parser.add_argument("--seed", type=int, default=3, help="random seed for the spacing")
    args = parser.parse_args(argv)
    args.samples = args.samples or (5 if args.quick else 20)
    args.burst = args.burst or (20 if args.quick else 200)
    if args.samples < 1 or args.burst < 2 or args.interval <= 0:
        parser.error("--samples >= 1, --burst >= 2 and --interval > 0 please")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = asyncio.run(run(args))
    out = write_results(results)
    print(f"\nwrote {out} (run {results['run_s']:.0f} s)")


if __name__ == "__main__":
    main()
