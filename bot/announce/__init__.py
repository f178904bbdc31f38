"""Stored events → Discord, exactly once and in order per blog (no discord import here).

:class:`Announcer` is the entry point; :mod:`bot.announce.port` is the boundary the
Discord side (``cogs.announcer``) implements. Where to look:

- ``_lanes.py``: one lane per blog, outbox order, backoff, disabled targets;
- ``_delivery.py``: one event → Discord calls, each creation recorded before it is made
  (the exactly-once protocol is described there);
- ``_identity.py``: nonces, and the markers that find a webhook message again;
- ``_targets.py``: what an operator is told when a channel refuses us.

A comment on a post that was never announced (it predates the bot) gets a thread
opened lazily by a one-line "💬 Comments on <title> <link>" message in the blog's
channel (a forum post in a forum channel); the post itself is not announced late.
"""

from bot.announce._announcer import Announcer
from bot.announce._lanes import LaneStatus

__all__ = ["Announcer", "LaneStatus"]
