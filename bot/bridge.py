"""``Gatejumper``: the discord.py bot that owns the core, the poll schedule and the cogs.

``setup_hook`` opens the core (database, HTTP session, parser pool), starts
polling, loads the cogs and syncs the application commands; ``close`` undoes
all of it in reverse, letting the announcer finish or hand back its in-flight
message first. After each poll of a blog the bot dispatches the custom event
``events_stored`` (``on_events_stored(blog_name)``), which wakes the announcer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Final

import discord
import yarl
from discord.ext import commands

from bot.app import Core, open_core
from bot.config import BlogConfig, Settings
from bot.feeds.poller import summarise
from bot.feeds.schedule import PollScheduler

if TYPE_CHECKING:
    from bot.announce import Announcer
    from bot.relay import Relayer

log = logging.getLogger(__name__)

EXTENSIONS: Final = ("cogs.announcer", "cogs.relay", "cogs.admin", "cogs.errors")
API_VERSION_SUFFIX: Final = "/v10"
#: How long ``close`` lets an in-flight blog poll finish before cancelling it (its
#: transaction is then rolled back: nothing is lost, the next run polls again).
POLL_GRACE_SECONDS: Final = 10.0

MESSAGE_CONTENT_HELP: Final = (
    "Discord refused the Message Content intent. Enable it for this bot: "
    "https://discord.com/developers/applications → your application → Bot → "
    "Privileged Gateway Intents → Message Content Intent, save, then start Gatejumper again"
)


def point_discord_at(api_base: str, gateway_url: str | None = None) -> None:
    """Send discord.py's REST calls to ``api_base`` and, if given, its gateway to ``gateway_url``.

    discord.py has exactly two process-wide settings for where it connects:
    ``discord.http.Route.BASE`` (every REST route, webhooks included, is built
    from it) and ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (where a
    plain ``Client`` IDENTIFYs; it never asks ``/gateway/bot``). A rate-limit
    proxy or a test server at ``api_base`` therefore needs both set, before
    login. Without ``gateway_url``, :class:`Gatejumper` asks ``GET /gateway/bot``
    at ``api_base`` right after logging in and stores the answer in the second
    setting (see :func:`use_gateway_of`).
    """
    base = api_base.rstrip("/")
    if not base.endswith(API_VERSION_SUFFIX):
        raise ValueError(
            f"discord.api_base must end in {API_VERSION_SUFFIX} (discord.py speaks API v10), "
            f"got {api_base!r}"
        )
    discord.http.Route.BASE = base
    if gateway_url is not None:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = websocket_url(gateway_url)


def websocket_url(url: str) -> yarl.URL:
    """``http(s)://`` (all the config's URL type takes) → ``ws(s)://``; ws(s) stays as it is."""
    parsed = yarl.URL(url)
    schemes = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
    if parsed.scheme not in schemes:
        raise ValueError(f"discord.gateway_url must be a ws(s):// or http(s):// URL, got {url!r}")
    return parsed.with_scheme(schemes[parsed.scheme])


async def use_gateway_of(http: discord.http.HTTPClient) -> str:
    """Ask ``GET /gateway/bot`` (at ``Route.BASE``) where to connect; make it discord.py's default.

    Raises :class:`discord.GatewayNotFound` when the API does not answer.
    """
    _, url, _ = await http.get_bot_gateway()
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = websocket_url(url)
    return url


def gatejumper_intents() -> discord.Intents:
    """Guilds, guild messages, message content (privileged: enable it in the developer portal),
    and direct messages (the relay answers them with a short explanation)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True
    intents.dm_messages = True
    return intents


class Gatejumper(commands.Bot):
    """The bridge: polls blogs on a schedule and lets the cogs talk to Discord."""

    settings: Settings
    core: Core
    announcer: Announcer
    relayer: Relayer
    scheduler: PollScheduler

    def __init__(self, settings: Settings, **options: Any) -> None:
        options.setdefault("command_prefix", commands.when_mentioned)
        options.setdefault("intents", gatejumper_intents())
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        options.setdefault("help_command", None)
        super().__init__(**options)
        self.settings = settings
        self._resources = contextlib.AsyncExitStack()
        self._teardown: asyncio.Task[None] | None = None

    async def login(self, token: str) -> None:
        discord_config = self.settings.discord
        gateway = str(discord_config.gateway_url) if discord_config.gateway_url else None
        point_discord_at(str(discord_config.api_base), gateway)
        await super().login(token)

    async def setup_hook(self) -> None:
        if self.settings.discord.gateway_url is None:
            url = await use_gateway_of(self.http)
            log.info("connecting to the gateway at %s", url)
        self.core = await self._resources.enter_async_context(open_core(self.settings))
        self.scheduler = PollScheduler(self.settings, self.poll_blog)
        self.scheduler.start()
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        synced = await self.tree.sync()
        log.info(
            "loaded %d extensions; %d application commands synced", len(EXTENSIONS), len(synced)
        )

    async def poll_blog(self, blog: BlogConfig) -> None:
        """The scheduled job of one blog: poll it, then tell the cogs new events may be stored."""
        outcomes = await self.core.poller.poll_blog(blog)
        log.info("%s: %s", blog.name, summarise(outcomes))
        self.dispatch("events_stored", blog.name)

    async def close(self) -> None:
        """Stop polling, unload the cogs, close the core, then disconnect (safe to call twice)."""
        if self._teardown is None:
            self._teardown = asyncio.create_task(self._tear_down())
        await asyncio.shield(self._teardown)
        await super().close()

    async def _tear_down(self) -> None:
        if hasattr(self, "scheduler"):
            await self.scheduler.stop(POLL_GRACE_SECONDS)
        for extension in reversed(tuple(self.extensions)):
            try:
                await self.unload_extension(extension)
            except Exception:
                log.exception("unloading %s failed", extension)
        await self._resources.aclose()
