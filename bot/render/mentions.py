"""Defuse mentions written by commenters, so relayed text can never ping or resolve.

Defence in depth: the Discord layer also sends ``allowed_mentions=none``.
"""

from __future__ import annotations

import re
from typing import Final

from bot.render.markdown import URL_PATTERN

__all__ = ["ZWSP", "neutralise_mentions"]

ZWSP: Final = "\u200b"
_MASS_MENTION: Final = re.compile(r"@(everyone|here)", re.IGNORECASE)
_ID_MENTION: Final = re.compile(r"<([@#])(?=[!&]?\d)")


def _neutralise_text(text: str) -> str:
    text = _MASS_MENTION.sub(rf"@{ZWSP}\1", text)
    return _ID_MENTION.sub(rf"<\1{ZWSP}", text)


def neutralise_mentions(text: str) -> str:
    """Break ``@everyone``, ``@here``, ``<@id>``, ``<@!id>``, ``<@&id>`` and ``<#id>``.

    A zero-width space goes after the ``@``/``#``; inside a URL, where it would
    break the link, ``@everyone``/``@here`` are percent-encoded instead.
    Idempotent: neutralised text is left as it is.
    """
    out: list[str] = []
    last = 0
    for match in URL_PATTERN.finditer(text):
        out.append(_neutralise_text(text[last : match.start()]))
        out.append(_MASS_MENTION.sub(r"%40\1", match.group(0)))
        last = match.end()
    out.append(_neutralise_text(text[last:]))
    return "".join(out)
