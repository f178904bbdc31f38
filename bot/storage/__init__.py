"""The database: schema, migrations and queries, on SQLite or PostgreSQL.

Everything else talks to :class:`Storage` in terms of :mod:`bot.storage.records`.
"""

from bot.storage.errors import StorageError
from bot.storage.mirror import (
    DisabledTarget,
    MessageIntent,
    MirroredMessage,
    PostThread,
    Webhook,
)
from bot.storage.relays import Relay, RelayRequest
from bot.storage.storage import Storage

__all__ = [
    "DisabledTarget",
    "MessageIntent",
    "MirroredMessage",
    "PostThread",
    "Relay",
    "RelayRequest",
    "Storage",
    "StorageError",
    "Webhook",
]
