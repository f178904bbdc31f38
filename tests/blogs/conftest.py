"""Fixtures of the blog client tests: an HTTP session, and a private WordPress per module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from tests.wp import WordPress, WordPressError

# Rebecca (an author, no moderate_comments) would otherwise hit WordPress's 15-second
# flood check: every test comment comes from 127.0.0.1. A test of the check removes it.
NO_FLOOD_PLUGIN = "no-flood"
NO_FLOOD = "add_filter('wp_is_comment_flood', '__return_false', 99);"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture(scope="module")
def blog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WordPress]:
    """One private WordPress per test module; each test makes its own posts.

    Tests that change a setting (moderation, disallowed words, the server itself)
    put it back before they end.
    """
    try:
        instance = WordPress.provision(tmp_path_factory.mktemp("blogs-wordpress"))
    except WordPressError as error:
        pytest.fail(f"could not provision the test WordPress: {error}", pytrace=False)
    try:
        instance.add_mu_plugin(NO_FLOOD_PLUGIN, NO_FLOOD)
        yield instance
    finally:
        instance.close()
