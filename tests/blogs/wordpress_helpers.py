"""Small helpers shared by the WordPress client tests."""

from __future__ import annotations

import aiohttp

from bot.blogs import Author, PostRef, WordPressComments
from tests.wp import WordPress, WpUser

ME = Author("Rebecca Healy")  # guest=False: the account's own comment
GUEST = Author("Ann Lee (via Discord)", email="ann@example.com", guest=True)
BOB = Author("Bob (via Discord)", guest=True)  # no email: the client's placeholder


def client(
    session: aiohttp.ClientSession, blog: WordPress, user: WpUser, *, root: str | None = None
) -> WordPressComments:
    return WordPressComments(
        session, root or blog.api_root, login=user.login, app_password=user.app_password
    )


def new_post(
    blog: WordPress, title: str = "A post to answer", *, author: str = "rebecca"
) -> PostRef:
    post_id = blog.create_post(title, "<p>Body.</p>", author=author)
    return PostRef(str(post_id))
