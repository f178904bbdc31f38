"""pytest fixtures: `discord_server` (a started server discord.py points at) and `discord_bot`.

Override `discord_server_config` to change limits, e.g.
`@pytest.mark.parametrize("discord_server_config", [ServerConfig.realistic()])`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from discord.ext import commands

from .client import make_bot, pointed_at, running
from .server import DiscordTestServer, ServerConfig


@pytest.fixture
def discord_server_config() -> ServerConfig:
    return ServerConfig()


@pytest.fixture
async def discord_server(discord_server_config: ServerConfig) -> AsyncIterator[DiscordTestServer]:
    """A fresh fake Discord with the default world; fails the test if the server itself broke
    or if discord.py called a route the server does not implement."""
    server = DiscordTestServer(discord_server_config)
    await server.start()
    try:
        with pointed_at(server):
            yield server
    finally:
        await server.stop()
    assert not server.internal_errors, "test server bug:\n" + "\n".join(server.internal_errors)
    assert not server.unknown_routes, "unimplemented routes were called: " + ", ".join(
        str(r) for r in server.unknown_routes
    )


@pytest.fixture
async def discord_bot(discord_server: DiscordTestServer) -> AsyncIterator[commands.Bot]:
    """A real `commands.Bot` logged in to `discord_server` and ready (guild cached)."""
    bot: commands.Bot = make_bot()
    async with running(bot, discord_server):
        yield bot
