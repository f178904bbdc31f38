"""A wire-level fake Discord (REST + gateway) for running the real discord.py in tests.

Start here: `DiscordTestServer` (server.py) and the fixtures in fixtures.py; `pointed_at` and
`point_discord_py_at` (client.py) explain how discord.py is redirected.
"""

from .client import (
    EventRecorder,
    bot_intents,
    make_bot,
    point_discord_py_at,
    pointed_at,
    restore_discord_py,
    running,
)
from .errors import DiscordAPIError
from .gateway import GatewayConfig, Intent
from .model import Channel, ChannelType, Interaction, Message, Pings, User, Webhook
from .permissions import Permission
from .ratelimits import Limit, RateLimitConfig
from .server import DiscordTestServer, RecordedRequest, ServerConfig
from .world import World

__all__ = [
    "Channel",
    "ChannelType",
    "DiscordAPIError",
    "DiscordTestServer",
    "EventRecorder",
    "GatewayConfig",
    "Intent",
    "Interaction",
    "Limit",
    "Message",
    "Permission",
    "Pings",
    "RateLimitConfig",
    "RecordedRequest",
    "ServerConfig",
    "User",
    "Webhook",
    "World",
    "bot_intents",
    "make_bot",
    "point_discord_py_at",
    "pointed_at",
    "restore_discord_py",
    "running",
]
