"""The Discord side of storage: intent log, post threads, webhooks, disabled targets, outbox."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from bot.events import CommentRemoved, NewComment, NewPost
from bot.storage import (
    MessageIntent,
    PostThread,
    Storage,
    StorageError,
    Webhook,
)
from bot.storage.schema import metadata
from tests.storage.conftest import START, FakeClock
from tests.storage.factories import BLOG, comment, feed, post, update, write

THREAD = 900
CHANNEL = 800


def intent(event_id: int = 1, part: int = 1, **changes: object) -> MessageIntent:
    values: dict[str, object] = {
        "event_id": event_id,
        "part": part,
        "blog": BLOG,
        "entry_key": f"comment-{event_id}",
        "kind": "comment",
        "channel_id": CHANNEL,
        "thread_id": THREAD,
        "nonce": f"gj{event_id}p{part}",
        "via_webhook": True,
        "marker": "Comment number",
        "author": "Reader",
    }
    values.update(changes)
    return MessageIntent(**values)  # type: ignore[arg-type]


def _diff(connection: Connection) -> tuple[str | None, list[object], list[str]]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    tables = sorted(sa.inspect(connection).get_table_names())
    return context.get_current_revision(), compare_metadata(context, metadata), tables


async def test_migrations_create_the_discord_and_relay_tables_as_the_schema_says(
    storage: Storage,
) -> None:
    async with storage._engine.connect() as connection:
        revision, diff, tables = await connection.run_sync(_diff)
    assert revision == "0003" and diff == []
    assert {"post_threads", "discord_messages", "webhooks", "disabled_targets", "relays"} <= set(
        tables
    )


async def test_an_intent_is_recorded_once_and_keeps_its_state(
    storage: Storage, clock: FakeClock
) -> None:
    row, new = await storage.record_intent(intent())
    assert new and row.status == "pending" and row.message_id is None
    assert (row.created_at, row.sent_at, row.location) == (START, None, THREAD)
    again, new_again = await storage.record_intent(intent(marker="other"))
    assert not new_again and again == row  # the first record stands
    clock.advance(5)
    await storage.mark_sent(row.id, 4242, via_webhook=False)
    [sent] = await storage.message_intents(1)
    assert (sent.status, sent.message_id, sent.via_webhook, sent.sent_at) == (
        "sent",
        4242,
        False,
        clock.now,
    )
    assert (await storage.record_intent(intent()))[0].status == "sent"


async def test_failed_and_errors_and_deleted(storage: Storage) -> None:
    row, _ = await storage.record_intent(intent())
    await storage.note_error(row.id, "503 (HTTP 503)")
    [noted] = await storage.message_intents(1)
    assert (noted.status, noted.error) == ("pending", "503 (HTTP 503)")
    await storage.mark_failed(row.id, "Missing Permissions")
    [failed] = await storage.message_intents(1)
    assert (failed.status, failed.error) == ("failed", "Missing Permissions")
    await storage.mark_sent(row.id, 77, via_webhook=True)
    await storage.mark_failed(row.id, "late")  # a sent message is never marked failed
    [sent] = await storage.message_intents(1)
    assert (sent.status, sent.error) == ("sent", None)
    await storage.mark_deleted(row.id)
    assert (await storage.message_intents(1))[0].status == "deleted"


async def test_nonces_are_unique(storage: Storage) -> None:
    await storage.record_intent(intent(1, 1))
    with pytest.raises(StorageError, match=r"record the intent of event 2 part 1: .*(?i:unique)"):
        await storage.record_intent(intent(2, 1, nonce="gj1p1"))


async def test_sent_messages_of_an_entry_are_its_live_parts_in_order(storage: Storage) -> None:
    rows = {}
    for event_id, part, key in [(1, 2, "comment-1"), (1, 1, "comment-1"), (2, 1, "comment-2")]:
        rows[(event_id, part)], _ = await storage.record_intent(
            intent(event_id, part, entry_key=key)
        )
    await storage.mark_sent(rows[(1, 1)].id, 10, via_webhook=True)
    await storage.mark_sent(rows[(1, 2)].id, 11, via_webhook=True)
    await storage.mark_sent(rows[(2, 1)].id, 12, via_webhook=True)
    assert [m.message_id for m in await storage.sent_messages_for(BLOG, "comment-1")] == [10, 11]
    await storage.mark_deleted(rows[(1, 2)].id)
    assert [m.part for m in await storage.sent_messages_for(BLOG, "comment-1")] == [1]
    assert await storage.sent_messages_for("another", "comment-1") == []
    assert await storage.last_sent_in_thread(THREAD) == 12  # deleted ones count too
    assert await storage.last_sent_in_thread(THREAD + 1) is None


async def test_a_forum_post_records_the_thread_it_made(storage: Storage) -> None:
    row, _ = await storage.record_intent(intent(kind="post", thread_id=None))
    assert row.location == CHANNEL
    await storage.mark_sent(row.id, 555, via_webhook=False, thread_id=555)
    [sent] = await storage.message_intents(1)
    assert (sent.thread_id, sent.location) == (555, 555)


async def test_post_threads_are_saved_and_replaced_keeping_their_creation_time(
    storage: Storage, clock: FakeClock
) -> None:
    assert await storage.post_thread(BLOG, "post-1") is None
    await storage.save_post_thread(PostThread(BLOG, "post-1", CHANNEL, THREAD, 123))
    clock.advance(60)
    await storage.save_post_thread(PostThread(BLOG, "post-1", CHANNEL, THREAD + 1, 124, True))
    found = await storage.post_thread(BLOG, "post-1")
    assert found == PostThread(BLOG, "post-1", CHANNEL, THREAD + 1, 124, True, START)
    assert await storage.post_thread("another", "post-1") is None


async def test_webhooks_are_stored_and_their_token_stays_out_of_reprs(storage: Storage) -> None:
    hook = Webhook(CHANNEL, 31, "s3cr3t-token")
    assert "s3cr3t" not in repr(hook)
    await storage.save_webhook(hook)
    await storage.save_webhook(dataclasses.replace(hook, webhook_id=32, token="new-token"))
    assert await storage.get_webhook(CHANNEL) == Webhook(CHANNEL, 32, "new-token")
    await storage.delete_webhook(CHANNEL)
    assert await storage.get_webhook(CHANNEL) is None


async def test_disabled_targets_say_when_they_are_new(storage: Storage, clock: FakeClock) -> None:
    assert await storage.disable_target(CHANNEL, BLOG, "Missing Permissions")
    clock.advance(60)
    assert not await storage.disable_target(CHANNEL, BLOG, "Unknown Channel")
    assert await storage.disable_target(CHANNEL + 1, "other", "Unknown Channel")
    [target] = await storage.disabled_targets(BLOG)
    assert (target.reason, target.since) == ("Unknown Channel", START)
    assert len(await storage.disabled_targets()) == 2
    assert [t.channel_id for t in await storage.enable_targets(BLOG)] == [CHANNEL]
    assert [t.blog for t in await storage.disabled_targets()] == ["other"]
    assert await storage.enable_targets(BLOG) == []


async def test_the_outbox_per_blog(storage: Storage) -> None:
    ids = await storage.enqueue_events(
        [NewPost(BLOG, post(1)), NewComment("other", comment(1)), NewComment(BLOG, comment(2))]
    )
    assert ids == sorted(ids) and len(ids) == 3
    assert await storage.pending_counts() == {BLOG: 2, "other": 1}
    mine = await storage.pending_events(blog=BLOG)
    assert [e.id for e in mine] == [ids[0], ids[2]]
    assert [e.id for e in await storage.pending_events(blog=BLOG, after_id=ids[0])] == [ids[2]]
    await storage.mark_delivered([ids[0]])
    assert await storage.pending_counts() == {BLOG: 1, "other": 1}
    assert await storage.enqueue_events([]) == []


async def test_enqueue_is_all_or_nothing(storage: Storage) -> None:
    broken = CommentRemoved(BLOG, "comment-2", "post-1", reason=object())  # type: ignore[arg-type]
    with pytest.raises(StorageError, match="enqueue events"):
        await storage.enqueue_events([NewComment(BLOG, comment(1)), broken])
    assert await storage.pending_counts() == {}


async def test_comments_without_message_are_visible_comments_of_mirrored_posts(
    storage: Storage,
) -> None:
    entries = [post(1), post(2), *(comment(n) for n in range(1, 6)), comment(6, post=2)]
    writes = tuple(write(e, removed=e.key == "comment-5") for e in entries)
    await storage.apply_update(dataclasses.replace(update(feed()), writes=writes))
    await storage.save_post_thread(PostThread(BLOG, "post-1", CHANNEL, THREAD))
    shown, _ = await storage.record_intent(intent(1, entry_key="comment-1"))
    await storage.mark_sent(shown.id, 1, via_webhook=True)
    await storage.record_intent(intent(2, entry_key="comment-2"))  # pending: in flight
    failed, _ = await storage.record_intent(intent(3, entry_key="comment-3"))
    await storage.mark_failed(failed.id, "refused")
    gone, _ = await storage.record_intent(intent(4, entry_key="comment-4"))
    await storage.mark_sent(gone.id, 4, via_webhook=True)
    await storage.mark_deleted(gone.id)
    missing = await storage.comments_without_message(BLOG)
    # 1 shown, 2 in flight, 5 removed on the blog, 6 on a post without a thread
    assert [item.key for item in missing] == ["comment-3", "comment-4"]
    assert await storage.comments_without_message("other") == []
