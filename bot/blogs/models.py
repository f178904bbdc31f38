"""Typed models shared by the blog comment clients, and the protocol they implement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

CommentStatus = Literal["approved", "hold", "spam", "trash", "deleted"]


@dataclass(frozen=True, slots=True)
class PostRef:
    """The post a comment belongs to, as the blog names it.

    ``id`` is the WordPress post id (``"123"``) or the Isso thread URI
    (``"/2009/03/a-post/"``); ``link`` is the post's public page and ``title`` its
    title, when known (Isso needs a title to open a thread it cannot fetch).
    """

    id: str
    link: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Author:
    """Who a relayed comment is from.

    ``guest=False``: the comment is the logged-in account's own (a linked author;
    WordPress shows the account's name). ``guest=True``: the comment carries ``name``
    (and ``email``) though it is sent through the bot's account. Isso has no accounts
    and always shows ``name``.
    """

    name: str
    email: str | None = None
    guest: bool = False


@dataclass(frozen=True, slots=True)
class BlogComment:
    """A comment as the blog stored it; ``status`` tells whether readers see it yet.

    ``content_raw`` is the text as stored before rendering (WordPress ``content.raw``,
    given only to accounts that may moderate; Isso's Markdown), so a caller can find
    the comment it sent by its content; None when the blog did not say. ``author_id``
    is the blog account the comment belongs to (WordPress user id), None for guests
    and on Isso, which has no accounts.
    """

    id: str
    post_id: str | None
    parent_id: str | None
    author_name: str
    content_html: str
    status: CommentStatus
    link: str | None
    created: datetime
    content_raw: str | None = None
    author_id: str | None = None


@runtime_checkable
class CommentClient(Protocol):
    """Create, edit, trash and read comments on one blog; every failure is a BlogError."""

    async def create_comment(
        self, post: PostRef, content: str, *, parent: str | None, author: Author
    ) -> BlogComment: ...

    async def update_comment(self, comment_id: str, content: str) -> BlogComment: ...

    async def delete_comment(self, comment_id: str) -> None: ...

    async def get_comment(self, comment_id: str) -> BlogComment: ...

    async def comments_since(
        self, post: PostRef, since: datetime, *, include_held: bool = False
    ) -> list[BlogComment]:
        """Comments on ``post`` created after ``since``, oldest first.

        ``include_held`` adds comments held for moderation where the blog lets this
        client see them (to find, after a crash, a comment a lost answer created).
        """
        ...
