"""Commenters' mentions can neither ping nor resolve."""

from __future__ import annotations

import pytest

from bot.render.mentions import ZWSP, neutralise_mentions
from tests.render.mention_check import live_mentions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi @everyone", f"hi @{ZWSP}everyone"),
        ("@here now", f"@{ZWSP}here now"),
        ("@EVERYONE shouting", f"@{ZWSP}EVERYONE shouting"),
        ("<@123456789012345678>", f"<@{ZWSP}123456789012345678>"),
        ("<@!123456789012345678>", f"<@{ZWSP}!123456789012345678>"),
        ("<@&123456789012345678>", f"<@{ZWSP}&123456789012345678>"),
        ("<#123456789012345678>", f"<#{ZWSP}123456789012345678>"),
        ("mail me@example.com and @ Modite", "mail me@example.com and @ Modite"),
        ("LOL @ Jessica", "LOL @ Jessica"),
        (
            "see https://medium.example/@everyone/post",
            "see https://medium.example/%40everyone/post",
        ),
        ("[x](https://h.example/@here_x)", "[x](https://h.example/%40here_x)"),
    ],
)
def test_neutralise_mentions(text: str, expected: str) -> None:
    assert neutralise_mentions(text) == expected
    assert live_mentions(neutralise_mentions(text)) == []


def test_neutralise_is_idempotent() -> None:
    text = "@everyone <@1> <@!2> <@&3> <#4> @here https://x.example/@here"
    once = neutralise_mentions(text)
    assert neutralise_mentions(once) == once
    assert live_mentions(once) == []


def test_the_check_itself_sees_live_mentions() -> None:
    assert live_mentions("ping @everyone and <@&55>") == ["@everyone", "<@&55>"]
