"""The polling benchmark's baseline clients, in a process of their own.

``poll_run`` starts this once and sends it one JSON command per line on stdin (plain aiohttp
GETs, our ``Fetcher`` alone, the raw client's ceiling); it answers one JSON line per
command on stdout. Running them here keeps their memory (sessions, 10,000 bodies read,
what the allocator cannot give back) out of the bot's process, whose peak RSS is measured.
Its garbage collector is set as the bot's (``settle_collector``) unless the bench runs with
``--default-gc``: the same runtime, only the HTTP client differs. With CPython's defaults,
1,000 to 10,000 GETs gathered at once spend much of their time in collections (measured:
1.1–2.3× slower, unevenly from run to run).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from poll_run import FeedServer, fetcher_only, plain_get, server_ceiling  # noqa: E402

from bot.app import settle_collector  # noqa: E402
from bot.config import PollingConfig  # noqa: E402
from bot.feeds.fetch import Fetcher  # noqa: E402


async def handle(command: dict[str, Any], setup: dict[str, Any]) -> dict[str, Any]:
    urls: list[str] = setup["urls"]
    if command["op"] == "plain_get":
        seconds, statuses = await plain_get(
            urls, command["headers"], setup["concurrency"], setup["per_host"]
        )
        return {"seconds": seconds, "statuses": {str(k): v for k, v in statuses.items()}}
    if command["op"] == "fetcher_only":
        polling = PollingConfig.model_validate(setup["polling"])
        async with Fetcher(polling) as fetcher:
            seconds, counts = await fetcher_only(fetcher, urls, command["etags"])
        return {"seconds": seconds, "counts": dict(counts)}
    if command["op"] == "ceiling":
        server = FeedServer(None, setup["port"], setup["hosts"])
        return await server_ceiling(server, command["etags"], setup["concurrency"])
    raise ValueError(f"unknown command {command['op']!r}")


def main() -> int:
    setup: dict[str, Any] = {}
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "setup":
            setup = command
            if not setup["default_gc"]:
                settle_collector()  # the same runtime as the bot's: only the HTTP client differs
            answer: dict[str, Any] = {"ok": True}
        else:
            answer = asyncio.run(handle(command, setup))
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
