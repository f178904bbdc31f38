"""What counts as a live mention, for asserting that rendered text has none."""

from __future__ import annotations

import re

from bot.render.markdown import URL_PATTERN

LIVE_MENTION = re.compile(r"@(?:everyone|here)|<@[!&]?\d+>|<#\d+>", re.IGNORECASE)


def live_mentions(text: str) -> list[str]:
    """Mentions Discord would resolve in ``text`` (URLs included: they must be defused too)."""
    found = LIVE_MENTION.findall(text)
    for url in URL_PATTERN.findall(text):
        found += LIVE_MENTION.findall(url)
    return found
