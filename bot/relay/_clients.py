"""One comment client per blog and account, built from the config and the environment."""

from __future__ import annotations

import logging

import aiohttp

from bot.blogs import BlogError, CommentClient, IssoComments, WordPressComments
from bot.config import BlogConfig, SecretMissingError, secret
from bot.feeds.plan import posts_key
from bot.storage import Storage

log = logging.getLogger("bot.relay")


class BlogClients:
    """Builds and caches the clients the relay posts through.

    ``client(blog, None)`` is the blog's own account (guests, and reads); ``client(blog,
    "alice")`` is a linked author's. A WordPress client needs the REST API root the poller
    discovered (stored with the blog's posts feed), so it is ready after the first poll.
    """

    def __init__(self, session: aiohttp.ClientSession, storage: Storage) -> None:
        self._session = session
        self._storage = storage
        self._clients: dict[tuple[str, str | None], CommentClient] = {}

    async def client(self, blog: BlogConfig, account: str | None) -> CommentClient:
        """Raises BlogError: transient while the API root is unknown, permanent for a missing
        password or an unknown account."""
        key = (blog.name, account)
        found = self._clients.get(key)
        if found is None:
            found = self._clients[key] = await self._build(blog, account)
        return found

    async def _build(self, blog: BlogConfig, account: str | None) -> CommentClient:
        if blog.platform == "isso":
            assert blog.isso_url is not None  # the config requires it
            return IssoComments(self._session, str(blog.isso_url), blog_url=str(blog.url))
        if blog.platform != "wordpress" or blog.credentials is None:
            raise BlogError(
                f"blog {blog.name!r} has no comment API the relay can use", code="no_api"
            )
        state = await self._storage.get_feed(posts_key(blog))
        if state is None:
            raise BlogError(
                "the blog's REST API is not known yet (it is found on the first poll)",
                code="connection",
                blog=blog.name,
            )
        login, password_env = blog.credentials.username, blog.credentials.app_password_env
        if account is not None:
            link = next((a for a in blog.relay.authors.values() if a.username == account), None)
            if link is None or link.app_password_env is None:
                raise BlogError(
                    f"account {account!r} is not linked with a password of its own",
                    code="not_linked",
                    blog=blog.name,
                )
            login, password_env = link.username, link.app_password_env
        try:
            password = secret(password_env)
        except SecretMissingError:
            raise BlogError(
                f"the application password of {login!r} is missing: set {password_env}",
                code="no_password",
                blog=blog.name,
            ) from None
        return WordPressComments(self._session, state.url, login=login, app_password=password)
