"""Discord snowflakes: time-ordered 64-bit ids, so discord.py's `snowflake_time` stays truthful."""

from __future__ import annotations

import itertools
import time

DISCORD_EPOCH_MS = 1_420_070_400_000


class SnowflakeFactory:
    """Hands out strictly increasing snowflakes built from the wall clock, like Discord does."""

    def __init__(self, worker: int = 1, process: int = 1) -> None:
        self._worker = worker & 0x1F
        self._process = process & 0x1F
        self._increment = itertools.count()
        self._last = 0

    def next(self) -> int:
        """Return a new id that is larger than every id returned before."""
        now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (
            (now_ms << 22)
            | (self._worker << 17)
            | (self._process << 12)
            | (next(self._increment) & 0xFFF)
        )
        self._last = max(candidate, self._last + 1)
        return self._last


def snowflake_ms(snowflake: int) -> int:
    """Unix time in milliseconds encoded in a snowflake."""
    return (snowflake >> 22) + DISCORD_EPOCH_MS
