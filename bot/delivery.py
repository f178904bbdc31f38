"""Hands stored events to a sink in order, marking each delivered only afterwards.

The outbox row is written in the same transaction as the "seen" state, and
marked delivered only after the sink returned, so a crash in between repeats
an event but never loses one.
"""

from __future__ import annotations

import logging

from bot.sinks import Sink
from bot.storage import Storage

log = logging.getLogger(__name__)


async def deliver_pending(storage: Storage, sink: Sink, *, batch: int = 100) -> int:
    """Deliver every pending event, oldest first; returns how many were delivered.

    Stops at the first event the sink fails on (it stays pending and is
    retried next time), so order is never broken.
    """
    delivered = 0
    while True:
        pending = await storage.pending_events(limit=batch)
        if not pending:
            return delivered
        for stored in pending:
            try:
                await sink.deliver(stored.event)
            except Exception:
                log.exception(
                    "delivering event %d (%s) failed; it stays queued", stored.id, stored.event.type
                )
                return delivered
            await storage.mark_delivered([stored.id])
            delivered += 1
