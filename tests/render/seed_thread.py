"""The seed thread (/work/shared/seed/thread.json) as the Entries a WordPress source would read.

Paragraphs become ``<p>`` elements with ``<br />`` for line breaks, the way
WordPress renders comment text; comment ``N`` (page index ``N - 1``) has the
key ``comment-N``.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import BlogConfig
from bot.feeds.models import Entry, EntryKind

SEED_PATH = Path(__file__).resolve().parents[3] / "shared" / "seed" / "thread.json"
POST_URL = "https://modite.example/2009/08/social-media-is-difficult-like-intimacy/"
POST_KEY = "post-1"
ANNOUNCE_CHANNEL = 123456789012345678
ALERTS_CHANNEL = 223456789012345678
ROLE = 323456789012345678
PUBLISHED = datetime(2009, 8, 12, 9, 0, tzinfo=UTC)
LONG_COMMENT_INDEX = 30


def load_seed() -> dict[str, Any]:
    if not SEED_PATH.is_file():
        pytest.fail(
            f"seed thread not found at {SEED_PATH} (expected ../shared/seed beside the repo)"
        )
    data: dict[str, Any] = json.loads(SEED_PATH.read_text(encoding="utf-8"))
    return data


def paragraphs_html(paragraphs: list[str]) -> str:
    return "".join(
        "<p>" + html.escape(p, quote=False).replace("\n", "<br />\n") + "</p>\n" for p in paragraphs
    )


def comment_key(index: int) -> str:
    return f"comment-{index + 1}"


def seed_post() -> Entry:
    post = load_seed()["post"]
    return Entry(
        kind=EntryKind.POST,
        key=POST_KEY,
        url=POST_URL,
        title=post["title"],
        author=post["author"],
        author_url="https://modite.example/author/rebecca/",
        content_html=paragraphs_html(post["paragraphs"]),
        published=PUBLISHED,
        categories=tuple(post["categories"]),
        image_url="https://modite.example/wp-content/uploads/2009/08/gate.jpg",
        native_id="1",
    )


def seed_comments() -> list[Entry]:
    data = load_seed()
    entries = []
    for c in data["comments"]:
        index = c["index"]
        pingback = c["type"] == "pingback"
        slug = "".join(ch for ch in c["author"].lower() if ch.isalnum())
        parent = c["parent_index"]
        entries.append(
            Entry(
                kind=EntryKind.PINGBACK if pingback else EntryKind.COMMENT,
                key=comment_key(index),
                url=(
                    f"https://{slug}.example/2009/09/a-post-{index}/"
                    if pingback
                    else f"{POST_URL}#comment-{index + 1}"
                ),
                author=c["author"],
                content_html=paragraphs_html(c["paragraphs"]),
                published=PUBLISHED + timedelta(hours=index + 1),
                post_key=POST_KEY,
                post_url=POST_URL,
                post_title=data["post"]["title"],
                parent_key=comment_key(parent) if parent is not None else None,
                native_id=str(index + 1),
            )
        )
    return entries


def seed_comment(index: int) -> Entry:
    return seed_comments()[index]


def blog_config(**overrides: Any) -> BlogConfig:
    """The seed blog's configuration; ``announce``/``comments`` overrides are merged."""
    values: dict[str, Any] = {
        "name": "modite",
        "platform": "wordpress",
        "url": "https://modite.example/",
        "announce": {"channel": ANNOUNCE_CHANNEL, "mention_role": ROLE},
        "comments": {"include_pingbacks": True},
    }
    for section in ("announce", "comments"):
        values[section] = {**values[section], **overrides.pop(section, {})}
    values.update(overrides)
    return BlogConfig.model_validate(values)
