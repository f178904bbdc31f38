"""End to end: a real WordPress, the real CLI, run twice — only new items, in order, with parents.

This is the operator's view: ``gatejumper run --dry-run --once`` against a
blog, on a real SQLite file and on PostgreSQL, across process restarts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.dryrun import Block, messages, parse_output, run_once
from tests.wp import SEED_THREAD, WordPress, _seed_comment

FIRST_BATCH = 12  # comments that exist before the bot's first run
SEED: dict[str, Any] = json.loads(SEED_THREAD.read_text(encoding="utf-8"))


def write_config(path: Path, wordpress: WordPress, database: str, *, pingbacks: bool) -> Path:
    path.write_text(
        f"""
database: {database}
blogs:
  - name: modite
    platform: wordpress
    url: {wordpress.url}
    credentials: {{ username: {wordpress.bot.login}, app_password_env: MODITE_APP_PASSWORD }}
    announce: {{ channel: 111 }}
    comments: {{ include_pingbacks: {str(pingbacks).lower()} }}
""",
        encoding="utf-8",
    )
    return path


def add_comments(
    wp: WordPress, post_id: int, start: datetime, indices: range, ids: dict[int, int]
) -> None:
    """Create seed comments ``indices`` with their real parents; record their ids."""
    batch = []
    for index in indices:
        comment = _seed_comment(post_id, SEED["comments"][index], start)
        parent = comment.pop("parent_ref")
        if parent is not None:
            if parent in ids:
                comment["parent"] = ids[parent]
            else:
                comment["parent_ref"] = indices.index(parent)
        batch.append(comment)
    ids.update(zip(indices, wp.create_comments(batch), strict=True))


def comment_messages(blocks: list[Block]) -> list[list[Block]]:
    return [m for m in messages(blocks) if not m[0].is_post]


@pytest.mark.wordpress
@pytest.mark.parametrize("pingbacks", [True, False], ids=["with-pingbacks", "without-pingbacks"])
async def test_second_run_prints_exactly_the_new_items_in_order_with_parents(
    make_wordpress: Callable[..., WordPress], database_url: str, tmp_path: Path, pingbacks: bool
) -> None:
    wp = make_wordpress(seed=False)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    post = SEED["post"]
    post_id = wp.create_post(
        post["title"], "\n\n".join(post["paragraphs"]), categories=post["categories"], date=start
    )
    ids: dict[int, int] = {}
    add_comments(wp, post_id, start, range(FIRST_BATCH), ids)
    config = write_config(tmp_path / "config.yaml", wp, database_url, pingbacks=pingbacks)
    env = {"MODITE_APP_PASSWORD": wp.bot.app_password}

    first = run_once(config, env)
    assert parse_output(first.stdout) == [], "the first run is a baseline and announces nothing"

    add_comments(wp, post_id, start, range(FIRST_BATCH, len(SEED["comments"])), ids)
    second = run_once(config, env)
    printed = comment_messages(parse_output(second.stdout))

    expected = [c for c in SEED["comments"][FIRST_BATCH:] if pingbacks or c["type"] == "comment"]
    assert len(printed) == len(expected), second.stdout
    for message, seed in zip(printed, expected, strict=True):
        last = message[-1]
        if seed["type"] == "pingback":
            assert "Pingback from" in last.text
            assert f"/2009/10/post-{seed['index']}/>)" in last.text, "links the linking page"
            continue
        assert last.comment_id == str(ids[seed["index"]]), (seed["index"], last.text[-200:])
        assert message[0].author == seed["author"]
        parent = seed["parent_index"]
        expected_parent = f"comment-{ids[parent]}" if parent is not None else None
        assert all(part.reply_to == expected_parent for part in message), seed["index"]
        assert "Social media is difficult like intimacy" in message[0].header

    long_one = max(expected, key=lambda c: len("\n\n".join(c["paragraphs"])))
    long_message = next(m for m in printed if m[-1].comment_id == str(ids[long_one["index"]]))
    assert [b.part for b in long_message] == [(1, 2), (2, 2)]
    if any("f**k" in p for c in expected for p in c["paragraphs"]):
        assert "f\\*\\*k" in second.stdout

    third = run_once(config, env)
    assert parse_output(third.stdout) == [], "nothing is announced twice"


@pytest.mark.wordpress
async def test_new_post_edits_and_removals_across_restarts(
    make_wordpress: Callable[..., WordPress], sqlite_url: str, tmp_path: Path
) -> None:
    wp = make_wordpress(seed=False)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    config = write_config(tmp_path / "config.yaml", wp, sqlite_url, pingbacks=False)
    env = {"MODITE_APP_PASSWORD": wp.bot.app_password}
    assert parse_output(run_once(config, env).stdout) == []

    post = SEED["post"]
    post_id = wp.create_post(
        post["title"], "\n\n".join(post["paragraphs"]), categories=post["categories"], date=start
    )
    ids: dict[int, int] = {}
    add_comments(wp, post_id, start, range(4), ids)
    blocks = parse_output(run_once(config, env).stdout)
    assert blocks[0].is_post and post["title"] in blocks[0].text
    assert "Blogging" in blocks[0].text  # categories are an embed field
    assert [b.comment_id for b in blocks[1:]] == [str(ids[i]) for i in range(4)]

    wp.edit_comment(ids[1], "<p>Edited on the blog.</p>")
    wp.set_comment_status(ids[2], "spam")
    wp.set_comment_status(ids[3], "trash")
    changes = parse_output(run_once(config, env).stdout)
    tags = sorted(tag for block in changes for tag in block.tags)
    assert tags == sorted(
        [f"edit comment-{ids[1]}", f"delete comment-{ids[2]}", f"delete comment-{ids[3]}"]
    )
    assert "Edited on the blog." in next(b.text for b in changes if "edit" in b.tags[0])

    wp.set_comment_status(ids[2], "approve")
    back = parse_output(run_once(config, env).stdout)
    assert [b.comment_id for b in back] == [str(ids[2])], "a re-approved comment comes back once"
    assert parse_output(run_once(config, env).stdout) == []
