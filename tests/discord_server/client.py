"""Pointing the real discord.py at the test server, and running a client against it.

discord.py has exactly two process-wide knobs for where it connects, both class attributes:

* `discord.http.Route.BASE` — the REST base URL. Every `Route` (bot requests, webhooks,
  interaction callbacks: they all build `Route` objects) computes its URL from it when created.
* `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` — the gateway URL `Client.connect()` uses
  for IDENTIFY, and again after a non-resumable INVALID_SESSION. RESUMEs use the
  `resume_gateway_url` from READY, which the server points at itself. (`AutoShardedClient`
  asks `GET /gateway/bot` first, which also works through `Route.BASE`.)

Setting both before `login()` is all it takes; no function is monkeypatched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import discord
import yarl
from discord.ext import commands

from .server import DiscordTestServer

ClientT = TypeVar("ClientT", bound=discord.Client)

_ORIGINAL_BASE = discord.http.Route.BASE
_ORIGINAL_GATEWAY = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


def point_discord_py_at(api_base: str, gateway_url: str) -> None:
    """Send discord.py's REST calls to `api_base` (".../api/v10") and IDENTIFY to `gateway_url`."""
    if not api_base.rstrip("/").endswith("/api/v10"):
        raise ValueError(f"api_base must end in /api/v10 (discord.py speaks v10), got {api_base!r}")
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def restore_discord_py() -> None:
    """Point discord.py back at discord.com."""
    discord.http.Route.BASE = _ORIGINAL_BASE
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = _ORIGINAL_GATEWAY


@contextlib.contextmanager
def pointed_at(server: DiscordTestServer) -> Iterator[DiscordTestServer]:
    """Point discord.py at `server` for the duration of the block."""
    point_discord_py_at(server.api_base, server.gateway_url)
    try:
        yield server
    finally:
        restore_discord_py()


def bot_intents() -> discord.Intents:
    """Default intents plus the two privileged ones the bridge needs (members, message content)."""
    intents = discord.Intents.default()
    intents.members = True
    intents.message_content = True
    return intents


def make_bot(cls: type[commands.Bot] = commands.Bot, **options: Any) -> commands.Bot:
    """A `commands.Bot` (or subclass) tuned for tests: short `guild_ready_timeout`, mentions off."""
    options.setdefault("command_prefix", "!")
    options.setdefault("intents", bot_intents())
    options.setdefault("guild_ready_timeout", 0.05)
    options.setdefault("heartbeat_timeout", 10.0)
    options.setdefault("allowed_mentions", discord.AllowedMentions.none())
    return cls(**options)


@contextlib.asynccontextmanager
async def running(
    client: ClientT,
    server: DiscordTestServer,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109
) -> AsyncIterator[ClientT]:
    """Start `client` against `server`, yield once it is ready (READY + GUILD_CREATE), close after.

    discord.py must already be pointed at the server (see `pointed_at`).
    """
    task = asyncio.create_task(client.start(server.token), name="discord-client")
    try:
        await _wait_ready(client, task, server, timeout)
        yield client
    except BaseException:
        await _stop(client, task)
        raise
    error = await _stop(client, task)
    if error is not None:
        raise RuntimeError(f"discord client crashed while the test ran: {error!r}") from error


async def _stop(client: discord.Client, task: asyncio.Task[None]) -> BaseException | None:
    """Close the client and return what its task died of, if anything."""
    await client.close()
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=5.0)
    except TimeoutError:
        task.cancel()
        return None
    except asyncio.CancelledError:
        return None
    except Exception as exc:
        return exc
    return None


async def _wait_ready(
    client: discord.Client,
    task: asyncio.Task[None],
    server: DiscordTestServer,
    timeout: float,  # noqa: ASYNC109
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not client.is_ready():
        if task.done():
            error = task.exception()
            raise RuntimeError(f"discord client stopped before it was ready: {error!r}") from error
        if asyncio.get_running_loop().time() > deadline:
            log = "\n  ".join(f"{r.kind} {r.detail}" for r in server.gateway.log[-10:])
            raise TimeoutError(f"discord client not ready after {timeout}s; gateway log:\n  {log}")
        await asyncio.sleep(0.01)


class EventRecorder:
    """Collects what a bot's listeners receive, e.g. `EventRecorder(bot, "message")`."""

    def __init__(self, bot: commands.Bot, *events: str) -> None:
        self.bot = bot
        self.events: dict[str, list[tuple[Any, ...]]] = {name: [] for name in events}
        self._changed = asyncio.Event()
        for name in events:
            bot.add_listener(self._listener(name), f"on_{name}")

    def _listener(self, name: str) -> Any:
        async def record(*args: Any) -> None:
            self.events[name].append(args)
            self._changed.set()
            self._changed = asyncio.Event()

        return record

    def first_args(self, name: str) -> list[Any]:
        """The first argument of every call, e.g. the `discord.Message` of each on_message."""
        return [args[0] if args else None for args in self.events[name]]

    async def wait_for(
        self,
        name: str,
        count: int = 1,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.events[name]) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(
                    f"got {len(self.events[name])} of {count} on_{name} events in {timeout}s"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.05))
        return self.first_args(name)
