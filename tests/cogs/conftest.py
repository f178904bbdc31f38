"""Fixtures of the Discord-side tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.cogs.gatejumper import PASSWORD_ENV
from tests.wp import WordPress


@pytest.fixture
def wp(make_wordpress: Callable[..., WordPress], monkeypatch: pytest.MonkeyPatch) -> WordPress:
    """A private, empty WordPress whose bot application password the bot finds in its env."""
    blog = make_wordpress(seed=False)
    monkeypatch.setenv(PASSWORD_ENV, blog.bot.app_password)
    return blog
