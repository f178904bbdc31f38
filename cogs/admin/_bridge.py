"""The bot the operator commands run in, checked when the extension loads.

The commands need the whole bridge (``bot.bridge.Gatejumper``): its settings, the
feed core, the poll scheduler and the announcer that ``cogs.announcer`` sets up.
Loading ``cogs.admin`` into anything less fails at once with a sentence, not at
the first command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, cast

if TYPE_CHECKING:
    from bot.bridge import Gatejumper

REQUIRED: Final = ("settings", "core", "announcer", "scheduler")


def as_bridge(bot: Any) -> Gatejumper:
    """``bot`` (or ``interaction.client``) as the bridge; ``TypeError`` naming what is missing."""
    missing = [name for name in REQUIRED if getattr(bot, name, None) is None]
    if missing:
        raise TypeError(
            "cogs.admin needs the Gatejumper bot (bot.bridge.Gatejumper) with its "
            f"{', '.join(REQUIRED)} set up before the extension loads (load cogs.announcer "
            f"first); missing: {', '.join(missing)}"
        )
    return cast("Gatejumper", bot)
