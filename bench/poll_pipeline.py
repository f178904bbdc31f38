"""The bot's own work around each fetch of an unchanged cycle, without the network.

    .venv/bin/python bench/poll_pipeline.py [--feeds 5000] [--rounds 9]

The real Storage (a SQLite file in a temporary folder), Updater and Poller.poll_all, with a
Fetcher whose ``get`` answers 304 after one turn of the event loop: what remains is the
bot's bookkeeping per feed (planning, locks, window, body limit, new state and schedule,
the deferred schedule write). Then the same cycle with one piece at a time replaced by a
no-op, so the difference is that piece's cost. Rounds alternate the variants; the best of
each is printed (wall time per feed). Not a test, and no figure here has a target: it says
where ``bench_poll.py``'s unchanged-cycle ratio goes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from bot.app import settle_collector  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.feeds import poller as poller_module  # noqa: E402
from bot.feeds.fetch import Fetcher  # noqa: E402
from bot.feeds.parse import ParserPool  # noqa: E402
from bot.feeds.poller import Poller  # noqa: E402
from bot.feeds.sources.base import NotModified, Retrieved  # noqa: E402
from bot.feeds.update import Outcome, Updater  # noqa: E402
from bot.storage import Storage  # noqa: E402
from bot.storage.records import FeedState, UpdateResult  # noqa: E402


class NoNetwork(Fetcher):
    """Answers every GET with 304 after one turn of the loop (a response's one await)."""

    async def get(self, url: str, **_: Any) -> Retrieved | NotModified:
        await asyncio.sleep(0)
        return NotModified()


class NoSlots:
    def take_now(self) -> bool:
        return True

    async def take(self) -> None:
        pass

    def release(self) -> None:
        pass


def settings(feeds: int, database: str) -> Settings:
    blogs = [
        {
            "name": f"b{i}",
            "platform": "feed",
            "url": f"http://127.0.0.{i % 16 + 1}:9/",
            "posts_feed": f"http://127.0.0.{i % 16 + 1}:9/feed/{i}/",
            "announce": {"channel": 1},
        }
        for i in range(feeds)
    ]
    return Settings.model_validate({"database": database, "blogs": blogs})


async def run(feeds: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/pipeline.db"
        config = settings(feeds, database)
        storage = await Storage.open(database)
        now = datetime.now(UTC)
        await storage.apply_updates(
            [
                UpdateResult(
                    FeedState(
                        key=f"{blog.name}:posts",
                        blog=blog.name,
                        url=str(blog.posts_feed),
                        role="posts",
                        etag='"1"',
                        body_hash="0",
                        synced_at=now,
                        last_polled_at=now,
                        last_success_at=now,
                        next_poll_at=now,
                    )
                )
                for blog in config.blogs
            ]
        )
        updater = Updater(config, storage, NoNetwork(config.polling), ParserPool(mode="inline"))
        poller = Poller(config, updater)
        settle_collector()  # as the bot does once started
        await poller.poll_all(force=True)  # the first cycle after a start reads the rows

        async def no_comments(*_: Any, **__: Any) -> list[Any]:
            return []

        def not_now() -> None:
            pass

        kept: dict[str, FeedState] = {}
        original: dict[str, Any] = {
            "plan_comments": poller_module.plan_comments,
            "hold": updater._bodies.hold,
            "defer": storage.defer_schedule,
            "soon": storage.write_schedules_soon,
        }
        variants: dict[str, dict[str, Callable[..., Any]]] = {
            "the whole cycle": {},
            "without planning comment listings": {"plan_comments": no_comments},
            "without the body limit": {"hold": lambda url: NoSlots()},
            "without the deferred schedule write": {
                "defer": lambda state, **_: kept.__setitem__(state.key, state),
                "soon": not_now,
            },
        }

        def use(variant: dict[str, Callable[..., Any]]) -> None:
            chosen = original | variant
            poller_module.plan_comments = chosen["plan_comments"]
            updater._bodies.hold = chosen["hold"]  # type: ignore[method-assign]
            storage.defer_schedule = chosen["defer"]  # type: ignore[method-assign]
            storage.write_schedules_soon = chosen["soon"]  # type: ignore[method-assign]

        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, variant in variants.items():
                use(variant)
                start = time.perf_counter()
                outcomes = await poller.poll_all(force=True)
                times[name].append(time.perf_counter() - start)
                use({})
                await storage.flush_schedules()  # the write the cycle started, not timed
                failed = [o for o in outcomes if o.outcome is not Outcome.NOT_MODIFIED]
                assert len(outcomes) == feeds and not failed, f"{name}: {failed[:3]}"
        await storage.close()
    whole = min(times["the whole cycle"])
    print(f"poll_pipeline: {feeds} feeds, no network (304 after one loop turn), best of {rounds}")
    for name, runs in times.items():
        best = min(runs)
        cost = "" if best == whole else f"  (that piece: {(whole - best) / feeds * 1e6:.1f} µs)"
        print(f"  {name:<38} {best / feeds * 1e6:6.1f} µs per feed{cost}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=9)
    options = parser.parse_args()
    asyncio.run(run(options.feeds, options.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
