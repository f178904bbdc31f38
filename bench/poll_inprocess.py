"""The unchanged cycle against plain aiohttp in the bot's own process, many interleaved rounds.

    .venv/bin/python bench/poll_inprocess.py [--feeds 1000] [--rounds 30] [--answer same|304]

``bench_poll.py`` gives the verdict (its baseline runs in a process of its own); this one is
for deciding between two versions of the code on a noisy machine. Every round runs, in a
shuffled order, one bot cycle (``Poller.poll_all(force=True)``, the real parts as in
``bench_poll.py``), plain aiohttp in this process and plain aiohttp in the baseline client's
process, and each figure is the median of the rounds, with the per-round ratio of the bot to
aiohttp in this process (its median and quartiles: a slow phase of the machine slows both
sides of a round). The bot's thread CPU time is printed too. Not a test; no target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from _machine import machine  # noqa: E402
from poll_run import (  # noqa: E402
    RESULTS,
    BaselineClient,
    bench_settings,
    parser_pool,
    plain_get,
    sqlite_database,
    start_server,
)

from bot.app import settle_collector  # noqa: E402
from bot.feeds.fetch import Fetcher  # noqa: E402
from bot.feeds.poller import Poller  # noqa: E402
from bot.feeds.update import Updater  # noqa: E402
from bot.storage import Storage  # noqa: E402

SIDES = ("bot", "aiohttp, this process", "aiohttp, own process")


async def run(feeds: int, rounds: int, answer: str) -> dict[str, Any]:
    server = start_server(feeds, 16)
    try:
        with sqlite_database(keep=False) as database:
            return await _rounds(server, database, feeds, rounds, answer)
    finally:
        server.stop()


async def _rounds(
    server: Any, database: str, feeds: int, rounds: int, answer: str
) -> dict[str, Any]:
    settings = bench_settings(server, feeds, database)
    urls = [server.url(i) for i in range(feeds)]
    expected = "unchanged" if answer == "same" else "not modified"
    storage = await Storage.open(database)
    client = await BaselineClient.start(server, settings, urls, default_gc=False)
    wall: dict[str, list[float]] = {side: [] for side in SIDES}
    cpu: list[float] = []
    try:
        async with Fetcher(settings.polling) as fetcher, parser_pool("process") as pool:
            poller = Poller(settings, Updater(settings, storage, fetcher, pool))
            settle_collector()
            print(f"poll_inprocess: first sync of {feeds} feeds…", file=sys.stderr, flush=True)
            await poller.poll_all(force=True)
            if answer == "same":
                server.control("/_control/validators?on=0")
            await poller.poll_all(force=True)  # not timed (without validators: every row)
            await storage.flush_schedules()
            etags = {state.url: state.etag for state in await storage.list_feeds()}
            headers = [
                {"If-None-Match": etag} if answer == "304" and (etag := etags[url]) else {}
                for url in urls
            ]
            for index in range(rounds):
                order = list(SIDES)
                random.shuffle(order)
                for side in order:
                    if side == "bot":
                        start, start_cpu = time.perf_counter(), time.thread_time()
                        outcomes = await poller.poll_all(force=True)
                        wall[side].append(time.perf_counter() - start)
                        cpu.append(time.thread_time() - start_cpu)
                        await storage.flush_schedules()  # not timed, as in bench_poll.py
                        if any(o.outcome.value != expected for o in outcomes):
                            raise SystemExit(f"poll_inprocess: a poll was not {expected!r}")
                    elif side == "aiohttp, this process":
                        seconds, _ = await plain_get(urls, headers, 64, 4)
                        wall[side].append(seconds)
                    else:
                        answered = await client.call("plain_get", headers=headers)
                        wall[side].append(answered["seconds"])
                print(f"  round {index + 1}/{rounds}", file=sys.stderr, flush=True)
    finally:
        await client.close()
        await storage.close()
    ratios = sorted(b / a for b, a in zip(wall["bot"], wall["aiohttp, this process"], strict=True))
    quartiles = [round(ratios[len(ratios) // 4], 3), round(ratios[3 * len(ratios) // 4], 3)]
    return {
        "name": f"poll-inprocess-{feeds}-{answer}",
        "feeds": feeds,
        "rounds": rounds,
        "answer": answer,
        "median_us_per_feed": {
            side: round(statistics.median(runs) / feeds * 1e6, 1) for side, runs in wall.items()
        },
        "bot_thread_cpu_us_per_feed": round(statistics.median(cpu) / feeds * 1e6, 1),
        "bot_to_aiohttp_per_round": {
            "median": round(statistics.median(ratios), 3),
            "quartiles": quartiles,
        },
        "machine": machine(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--answer", choices=["same", "304"], default="same")
    options = parser.parse_args()
    result = asyncio.run(run(options.feeds, options.rounds, options.answer))
    medians = result["median_us_per_feed"]
    per_round = result["bot_to_aiohttp_per_round"]
    print(
        f"poll_inprocess: {options.feeds} feeds, {options.answer} answers, median of "
        f"{options.rounds} rounds, µs per feed"
    )
    for side in SIDES:
        print(f"  {side:<24} {medians[side]:7.1f}")
    print(f"  bot's thread CPU          {result['bot_thread_cpu_us_per_feed']:7.1f}")
    low, high = per_round["quartiles"]
    print(f"  bot ÷ aiohttp in this process, per round: {per_round['median']} ({low}–{high})")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{result['name']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"poll_inprocess: wrote {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
