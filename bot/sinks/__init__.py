"""Where events go once the feed core has recorded them: the console now, Discord later."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.events import Event

__all__ = ["Sink"]


@runtime_checkable
class Sink(Protocol):
    """Something that shows or sends events.

    ``deliver`` returns once the event is handled; raising leaves the event in
    the outbox so it is offered again.
    """

    async def deliver(self, event: Event) -> None: ...
