"""Running the real ``Gatejumper`` against the Discord test server and a real WordPress.

Shared by the end-to-end and fault tests of ``cogs.announcer`` and ``cogs.relay``: settings
for a blog on a test WordPress, a bot started and stopped like production does it (in this
process, or as a ``gatejumper run`` subprocess that can be SIGKILLed), and readers for what
reached "Discord".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.bridge import Gatejumper
from bot.config import (
    AnnounceConfig,
    BlogConfig,
    CommentsConfig,
    Credentials,
    DiscordConfig,
    PollingConfig,
    Settings,
)
from bot.render.limits import webhook_username
from tests.discord_server import DiscordTestServer, Message
from tests.discord_server.client import running
from tests.wp import SEED_THREAD, WordPress

T = TypeVar("T")

SEED: dict[str, Any] = json.loads(SEED_THREAD.read_text(encoding="utf-8"))
PASSWORD_ENV = "MODITE_APP_PASSWORD"
EXECUTE_WEBHOOK = "POST /webhooks/{webhook_id}/{webhook_token}"
CREATE_MESSAGE = "POST /channels/{channel_id}/messages"
PART_LINE = re.compile(r"\n?\((\d+)/(\d+)\)$")
REPO = Path(__file__).resolve().parents[2]


def blog_config(
    wp: WordPress,
    channel: int,
    *,
    name: str = "modite",
    mention_role: int | None = None,
    pingbacks: bool = True,
) -> BlogConfig:
    return BlogConfig(
        name=name,
        platform="wordpress",
        url=wp.url,  # type: ignore[arg-type]
        credentials=Credentials(username=wp.bot.login, app_password_env=PASSWORD_ENV),
        announce=AnnounceConfig(channel=channel, mention_role=mention_role),
        comments=CommentsConfig(include_pingbacks=pingbacks),
    )


def bridge_settings(
    server: DiscordTestServer,
    database: str,
    blogs: Sequence[BlogConfig],
    *,
    interval: float = 1.0,
    alerts_channel: int | None = None,
) -> Settings:
    """Polls every second, REST and gateway at the test server (the gateway via /gateway/bot)."""
    return Settings(
        database=database,
        discord=DiscordConfig(
            api_base=server.api_base,  # type: ignore[arg-type]
            alerts_channel=alerts_channel,
        ),
        polling=PollingConfig(interval=timedelta(seconds=interval), jitter=0.0),
        blogs=list(blogs),
    )


@contextlib.asynccontextmanager
async def running_bridge(
    settings: Settings, server: DiscordTestServer
) -> AsyncIterator[Gatejumper]:
    """A ``Gatejumper`` logged in and ready; closed (as on SIGTERM) when the block ends."""
    bot = Gatejumper(settings, guild_ready_timeout=0.05)
    async with running(bot, server, timeout=20.0) as ready:
        yield ready


async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float = 30.0,  # noqa: ASYNC109
    what: str = "a condition",
    every: float = 0.1,
) -> T:
    """``await check()`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {value!r})")
        await asyncio.sleep(every)


async def polled_once(bot: Gatejumper, blog: str = "modite") -> None:
    """Wait until every feed of ``blog`` has been polled successfully (the baseline)."""

    async def done() -> bool:
        feeds = await bot.core.storage.list_feeds(blog)
        return bool(feeds) and all(f.last_success_at is not None for f in feeds)

    await eventually(done, what=f"the first poll of {blog}")


async def between_polls(bot: Gatejumper, blog: str, change: Callable[[], T]) -> T:
    """Run the blocking ``change`` to the blog while no poll of it runs, then poll on.

    WordPress writes a post and then its featured image: a poll in between would
    announce the post without its image. Pausing the schedule and then polling
    once ourselves (which waits for a poll in flight) keeps polls off the half-written state.
    """
    bot.scheduler.scheduler.pause()
    try:
        config = next(b for b in bot.settings.blogs if b.name == blog)
        await bot.core.poller.poll_blog(config)
        return await asyncio.to_thread(change)
    finally:
        bot.scheduler.scheduler.resume()


async def messages_settle(
    server: DiscordTestServer,
    channel: int,
    count: int,
    *,
    timeout: float = 60.0,  # noqa: ASYNC109
) -> list[Message]:
    """Wait for ``count`` messages in ``channel``, then a moment to see that no more come."""

    async def enough() -> list[Message] | None:
        found = server.messages(channel)
        return found if len(found) >= count else None

    await eventually(enough, timeout=timeout, what=f"{count} messages in channel {channel}")
    await asyncio.sleep(1.5)
    return server.messages(channel)


def expected_names(comments: Sequence[dict[str, Any]]) -> list[str]:
    return [webhook_username(c["author"]) for c in comments]


def text_without_parts(contents: Sequence[str]) -> str:
    """The parts of a split message joined back, their ``(i/n)`` lines removed."""
    return "\n\n".join(PART_LINE.sub("", c) for c in contents)


def plain(text: str) -> str:
    """Markdown escapes removed and whitespace collapsed, to compare with the seed's text."""
    return " ".join(re.sub(r"\\(.)", r"\1", text).split())


class BotProcess:
    """``gatejumper run`` in a subprocess, so that a kill is a real SIGKILL (locks, sockets,
    half-written transactions and all)."""

    def __init__(self, config: Path, env: dict[str, str], log_file: Path) -> None:
        self.config = config
        self.env = env
        self.log_file = log_file
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, server: DiscordTestServer) -> None:
        identified = len([r for r in server.gateway.log if r.kind == "identify"])
        with self.log_file.open("ab") as log_output:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                "--config",
                str(self.config),
                cwd=REPO,
                env=self.env,
                stdout=log_output,
                stderr=log_output,
            )
        await server.wait_for_gateway("identify", count=identified + 1, timeout=30)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> int | None:
        """SIGTERM, as an operator stops it; returns the exit code."""
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout=30)
        except TimeoutError:
            await self.kill()
            return None

    def log_tail(self) -> str:
        return self.log_file.read_text(errors="replace")[-3000:]

    async def wait_for_log(self, text: str, *, count: int = 1) -> None:
        async def seen() -> bool:
            return self.log_file.read_text(errors="replace").count(text) >= count

        await eventually(seen, what=f"{text!r} in the bot's log")


def process_config(
    path: Path,
    server: DiscordTestServer,
    wp: WordPress,
    database: str,
    *,
    relay: Mapping[str, str | int | bool] | None = None,
) -> Path:
    """A ``config.yaml`` for ``gatejumper run``: one blog, ``modite``, polled every second;
    ``relay`` (e.g. ``{"enabled": True, "retry_max": "1s"}``) becomes its ``relay`` section."""
    relay_line = ""
    if relay:
        fields = ", ".join(f"{key}: {json.dumps(value)}" for key, value in relay.items())
        relay_line = f"    relay: {{ {fields} }}\n"
    path.write_text(
        f"""
database: {database}
discord:
  api_base: {server.api_base}
polling:
  interval: 1s
  jitter: 0
blogs:
  - name: modite
    platform: wordpress
    url: {wp.url}
    credentials: {{ username: {wp.bot.login}, app_password_env: {PASSWORD_ENV} }}
    announce: {{ channel: {server.world.announcements.id} }}
{relay_line}""",
        encoding="utf-8",
    )
    return path
