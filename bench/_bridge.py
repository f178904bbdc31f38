"""What the end-to-end benchmarks share: a real WordPress (tests.wp), the wire-level Discord
test server with Discord's real rate limits, the real ``Gatejumper`` between them, and how
their figures are computed and written.

Used by ``bench_discord.py`` (blog → Discord) and ``bench_relay.py`` (Discord → blog).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _machine import machine  # noqa: E402,F401  (re-exported for the benches)

from tests._db import sqlite_file_url  # noqa: E402
from tests.cogs.gatejumper import PASSWORD_ENV  # noqa: E402
from tests.discord_server import DiscordTestServer, ServerConfig, pointed_at  # noqa: E402
from tests.wp import WordPress  # noqa: E402

BLOG = "modite"
RESULTS = ROOT / "bench" / "results"


class Recorder(logging.Handler):
    """Keeps the bot's log records (warnings by default) to explain the figures."""

    def __init__(self, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.records: list[tuple[float, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.created, record.name, record.getMessage()))

    def attach(self, names: Iterable[str] = ("bot", "cogs", "discord")) -> Recorder:
        """Listen to these loggers (their levels are the caller's business)."""
        for name in names:
            logging.getLogger(name).addHandler(self)
        return self


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 20 samples is the maximum, by design)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


@dataclass
class Stage:
    """A running WordPress and Discord test server, with the bot's password in the env."""

    wp: WordPress
    server: DiscordTestServer
    workdir: Path
    provision_s: float

    @property
    def database(self) -> str:
        """A fresh SQLite file for the bot."""
        return sqlite_file_url(self.workdir / "db" / "gatejumper.db")

    def test_server_problems(self) -> dict[str, Any]:
        return {
            "internal_errors": len(self.server.internal_errors),
            "unknown_routes": [str(r) for r in self.server.unknown_routes],
        }


@contextlib.asynccontextmanager
async def stage(prefix: str) -> AsyncIterator[Stage]:
    """Provision a WordPress, start the Discord test server (``ServerConfig.realistic()``) and
    point discord.py at it; the bot's application password is in ``PASSWORD_ENV``."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        workdir = Path(tmp)
        (workdir / "wordpress").mkdir()
        t0 = time.monotonic()
        wp = await asyncio.to_thread(WordPress.provision, workdir / "wordpress")
        provision_s = time.monotonic() - t0
        try:
            os.environ[PASSWORD_ENV] = wp.bot.app_password
            server = DiscordTestServer(ServerConfig.realistic())
            await server.start()
            try:
                with pointed_at(server):
                    yield Stage(wp, server, workdir, provision_s)
            finally:
                await server.stop()
        finally:
            await asyncio.to_thread(wp.close)


def write_results(results: dict[str, Any]) -> Path:
    """``results/<name>.json``; returns the path relative to the repository."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{results['name']}.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return out.relative_to(ROOT)
