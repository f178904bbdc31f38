"""Who may relay, as whom (``bot.relay._policy``): tables of config × message → identity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.config import AnnounceConfig, AuthorLink, BlogConfig, Credentials, RelayConfig
from bot.relay._policy import (
    Guest,
    Linked,
    Refused,
    edit_too_late,
    guest_name,
    identity,
    too_fast,
    too_long,
)
from bot.relay.models import ChatMessage

ALICE, BOB = 111, 222
READERS = 900


def blog(**relay: Any) -> BlogConfig:
    return BlogConfig(
        name="modite",
        platform="wordpress",
        url="https://blog.example.org/",  # type: ignore[arg-type]
        announce=AnnounceConfig(channel=1),
        credentials=Credentials(username="gatejumper", app_password_env="BOT_PW"),
        relay=RelayConfig(enabled=True, **relay),
    )


def message(author: int = BOB, roles: tuple[int, ...] = (), content: str = "hi") -> ChatMessage:
    return ChatMessage(
        message_id=1,
        channel_id=2,
        guild_id=3,
        author_id=author,
        author_name="Bob  Builder",
        content=content,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        role_ids=roles,
    )


LINKS = {
    ALICE: AuthorLink(username="rebecca", app_password_env="REBECCA_PW"),
    BOB: AuthorLink(username="bob"),
}


@pytest.mark.parametrize(
    ("config", "author", "roles", "expected"),
    [
        ({}, BOB, (), Guest("Bob Builder (via Discord)")),
        ({"authors": LINKS}, ALICE, (), Linked("rebecca", own_account=True)),
        ({"authors": LINKS}, BOB, (), Linked("bob", own_account=False)),
        ({"authors": LINKS, "guests": "off"}, ALICE, (), Linked("rebecca", own_account=True)),
        ({"guests": "off"}, BOB, (), Refused),
        ({"allowed_roles": [READERS]}, BOB, (), Refused),
        ({"allowed_roles": [READERS]}, BOB, (READERS,), Guest("Bob Builder (via Discord)")),
        ({"allowed_roles": [READERS], "authors": LINKS}, ALICE, (), Linked("rebecca", True)),
    ],
)
def test_identity(
    config: dict[str, Any], author: int, roles: tuple[int, ...], expected: object
) -> None:
    found = identity(blog(**config), message(author, roles))
    if expected is Refused:
        assert isinstance(found, Refused) and found.why.endswith(".")
    else:
        assert found == expected


def test_guest_names_are_tidy_and_bounded() -> None:
    assert guest_name("  Bob \n Builder ") == "Bob Builder (via Discord)"
    assert guest_name("") == "Discord member (via Discord)"
    assert len(guest_name("x" * 500)) == 200 + len(" (via Discord)")


def test_limits() -> None:
    config = blog(max_length=10, per_user_per_minute=2)
    assert too_long(config, message(content="x" * 10)) is None
    long = too_long(config, message(content="x" * 11))
    assert long is not None and "11 characters" in long.why and "at most 10" in long.why
    assert too_fast(config, 1) is None
    fast = too_fast(config, 2)
    assert fast is not None and "2 per minute" in fast.why
    assert "24 hours" in edit_too_late(timedelta(hours=24)).why
    assert "30 minutes" in edit_too_late(timedelta(minutes=30)).why


def test_snowflakes_start_with_their_time() -> None:
    """Discord's documented example: 175928847299117063 was made 2016-04-30 11:18:25.796 UTC."""
    from bot.relay._intake import snowflake_at

    made = datetime(2016, 4, 30, 11, 18, 25, 796000, tzinfo=UTC)
    assert snowflake_at(made) >> 22 == 175928847299117063 >> 22
    assert snowflake_at(made) <= 175928847299117063 < snowflake_at(made + timedelta(milliseconds=1))
