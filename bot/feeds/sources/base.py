"""The contract between the update pipeline and each kind of source.

A *source* is one pollable listing of a blog: a posts feed, a site-wide
comment feed or API listing, or the comments of one post. The pipeline calls
``retrieve`` (I/O, on the event loop) and then runs ``parse`` (pure, CPU) in
the parser pool, so ``parse`` must be a picklable top-level function.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import xxhash

from bot._records import immutable
from bot.feeds.models import ParsedFeed

if TYPE_CHECKING:
    from bot.feeds.fetch import Fetcher
    from bot.storage.records import FeedState


@immutable
class Retrieved:
    """Raw bodies of one retrieval (several when an API is paged); immutable (``@immutable``:
    one is made for every poll answered 200)."""

    url: str
    bodies: tuple[bytes, ...]
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    max_age: float | None = None

    @property
    def body_hash(self) -> str:
        """What tells a body the same as last time's, so that it is not parsed again.

        XXH3 (128 bits), not a cryptographic hash: it compares a feed's bodies with its own
        earlier ones, which only the blog writes, and it costs 0.5 µs for a 28 KB feed where
        SHA-256 cost 16 (every poll answered 200). Hashes stored by older versions (SHA-256,
        without the prefix) differ from every new one: each such feed is parsed once more.
        """
        digest = xxhash.xxh3_128()
        for body in self.bodies:
            digest.update(len(body).to_bytes(8, "big"))
            digest.update(body)
        return "xxh3-128:" + digest.hexdigest()


@immutable
class NotModified:
    """The server answered 304 (or the source knows nothing changed); immutable (``@immutable``:
    one is made for every poll answered 304)."""

    max_age: float | None = None


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What a parse function may know besides the bytes (picklable)."""

    blog: str
    feed_key: str
    url: str
    role: str
    post_key: str | None = None
    post_url: str | None = None
    post_title: str | None = None
    now: datetime | None = None
    include_pingbacks: bool = False
    extra: dict[str, str] = field(default_factory=dict)


ParseFunc = Callable[[Retrieved, ParseContext], ParsedFeed]


class Source(Protocol):
    """One pollable listing; see the module docstring."""

    @property
    def parse(self) -> ParseFunc: ...

    def retrieve(
        self, fetcher: Fetcher, state: FeedState, now: datetime
    ) -> Awaitable[Retrieved | NotModified]:
        """Fetch the listing; raise :class:`bot.feeds.errors.RetrieveError` on failure.

        An ``async def`` or, for a source that only makes one request, a plain method
        returning ``fetcher.get(...)`` itself: a coroutine less for every poll to go through.
        """
        ...
