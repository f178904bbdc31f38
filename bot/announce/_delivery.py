"""One outbox event of one blog → Discord calls, each creation recorded before it is made.

The protocol for every message we create (a *send*):

1. record the intent ``(event id, part)`` as ``pending`` (a row already ``sent`` is done);
2. if the row was already pending, the outcome of an earlier attempt is unknown: a webhook
   message is looked for (``find_sent`` with the marker, after the last message we know we
   sent in that thread) and adopted when found; a bot message is simply sent again with the
   same nonce, and Discord returns the original;
3. make the call; on success store the message id (``sent``), on a permanent refusal mark the
   row ``failed`` (nothing was created), on a transient error leave it pending (unknown).

Thread creation and forum posts are idempotent on Discord's side (``start_thread`` returns the
message's thread, ``create_forum_post`` the post carrying the marker); edits and deletions are
idempotent too (a message already gone counts as done). So repeating any event after a crash
repeats no visible effect, and the outbox marks an event delivered only after all of it.

Comments that came *from* Discord through the relay (``bot.relay``) are not mirrored back, nor
are their edits and removals: the Discord message they came from already shows them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable
from dataclasses import dataclass

from bot.announce._identity import forum_marker, marker, nonce
from bot.announce.port import (
    ChannelKind,
    DiscordError,
    DiscordPort,
    MessageGone,
    PermanentDiscordError,
    ReplyTarget,
    Sent,
    TransientDiscordError,
)
from bot.config import BlogConfig
from bot.events import (
    CommentEdited,
    CommentRemoved,
    FeedFailing,
    FeedRecovered,
    NewComment,
    NewPingback,
    NewPost,
)
from bot.feeds.models import Entry, EntryKind
from bot.render.limits import THREAD_NAME_FALLBACK
from bot.render.markdown import escape_markdown, html_to_text, safe_url
from bot.render.mentions import neutralise_mentions
from bot.render.messages import MessageDraft, render_event
from bot.storage import MessageIntent, MirroredMessage, PostThread, Storage
from bot.storage.records import StoredEvent

log = logging.getLogger("bot.announce")

#: Part number of the short announcement that opens a thread for comments on a post that was
#: never announced (it predates the bot); the comment's own parts are numbered from 1.
STARTER_PART = 0

#: How long a comment waits for a relay of its blog whose outcome is not known yet (it may be
#: that very comment) before the lane backs off and tries again later.
RELAY_WAIT_SECONDS = 10.0
RELAY_WAIT_STEP = 0.25


def describe(error: DiscordError) -> str:
    """An error in one line: Discord's message, HTTP status and JSON code when known."""
    details = []
    if error.status is not None:
        details.append(f"HTTP {error.status}")
    if error.code is not None:
        details.append(f"code {error.code}")
    return f"{error.message} ({', '.join(details)})" if details else error.message


@dataclass(frozen=True, slots=True)
class _Where:
    """Where a message goes: a channel, or a thread of that channel."""

    channel_id: int
    thread_id: int | None = None

    @property
    def location(self) -> int:
        return self.thread_id if self.thread_id is not None else self.channel_id


class ChannelKinds:
    """Channel kinds asked once per channel and remembered (they do not change under us)."""

    def __init__(self, port: DiscordPort) -> None:
        self._port = port
        self._known: dict[int, ChannelKind] = {}

    async def get(self, channel_id: int) -> ChannelKind:
        if channel_id not in self._known:
            self._known[channel_id] = await self._port.channel_kind(channel_id)
        return self._known[channel_id]


class BlogDelivery:
    """Delivers the events of one blog; raises the port's errors for the lane to handle."""

    def __init__(
        self,
        blog: BlogConfig,
        storage: Storage,
        port: DiscordPort,
        kinds: ChannelKinds,
        *,
        alerts_channel: int | None = None,
    ) -> None:
        self.blog = blog
        self._storage = storage
        self._port = port
        self._kinds = kinds
        self._alerts_channel = alerts_channel

    async def deliver(self, stored: StoredEvent) -> None:
        """Make Discord show ``stored.event``; safe to call again for the same event."""
        event = stored.event
        drafts = render_event(event, self.blog, alerts_channel=self._alerts_channel)
        match event:
            case NewPost():
                await self._new_post(stored.id, event.post, drafts)
            case NewComment():
                if not await self._relayed(event.comment.key, event.comment.post_key):
                    await self._new_comment(stored.id, event.comment, drafts)
            case NewPingback():
                await self._new_comment(stored.id, event.pingback, drafts)
            case CommentEdited():
                if not await self._relayed(event.comment.key, event.comment.post_key):
                    await self._edited(stored.id, event.comment, drafts)
            case CommentRemoved():
                if not await self._relayed(event.key, event.post_key):
                    await self._removed(event.key)
            case FeedFailing() | FeedRecovered():
                for draft in drafts:
                    await self._send(stored.id, draft, _Where(_channel(draft)), author=False)

    async def _relayed(self, key: str, post_key: str | None) -> bool:
        """Whether the comment ``key`` is one the relay posted from Discord (not mirrored back).

        While a relay of this blog is in flight its comment id is unknown, and this comment may
        be it: wait a little, then let the lane retry later.
        """
        if not self.blog.relay.enabled:
            return False
        waited = 0.0
        blog = self.blog.name
        while (verdict := await self._storage.echo_verdict(blog, key, post_key)) == "wait":
            if waited >= RELAY_WAIT_SECONDS:
                raise TransientDiscordError(
                    f"{key} may be a reply from Discord still being posted to the blog"
                )
            await asyncio.sleep(RELAY_WAIT_STEP)
            waited += RELAY_WAIT_STEP
        if verdict == "ours":
            log.info(
                "%s: %s came from Discord through the relay; not mirrored", self.blog.name, key
            )
        return verdict == "ours"

    # Posts and their threads

    async def _new_post(self, event_id: int, post: Entry, drafts: list[MessageDraft]) -> None:
        if await self._storage.post_thread(self.blog.name, post.key) is not None:
            log.info(
                "%s: post %s already has a thread; not announced again", self.blog.name, post.key
            )
            return
        for draft in drafts:
            await self._open_thread(event_id, 1, draft, post.key)

    async def _open_thread(
        self, event_id: int, part: int, draft: MessageDraft, post_key: str
    ) -> PostThread | None:
        """Announce (or open a forum post for) a post and store its thread.

        ``None`` when the announcement was deleted (by a moderator) before its thread was
        started: that is respected, the post is not announced again.
        """
        channel = _channel(draft)
        name = draft.thread or THREAD_NAME_FALLBACK
        auto_archive = self.blog.announce.thread_auto_archive
        if await self._kinds.get(channel) == "forum":
            sent = await self._forum_post(event_id, part, draft, name)
            thread = PostThread(
                self.blog.name, post_key, channel, sent.channel_id, sent.message_id, is_forum=True
            )
        else:
            sent = await self._send(event_id, draft, _Where(channel), author=False, part=part)
            try:
                thread_id = await self._port.start_thread(
                    channel, sent.message_id, name, auto_archive
                )
            except MessageGone:
                await self._announcement_gone(event_id, part, post_key)
                return None
            thread = PostThread(self.blog.name, post_key, channel, thread_id, sent.message_id)
        await self._storage.save_post_thread(thread)
        return thread

    async def _announcement_gone(self, event_id: int, part: int, post_key: str) -> None:
        for row in await self._storage.message_intents(event_id):
            if row.part == part and row.status == "sent":
                await self._storage.mark_deleted(row.id)
        log.warning(
            "%s: the announcement of %s was deleted before its thread was started; "
            "the post gets no thread",
            self.blog.name,
            post_key,
        )

    async def _forum_post(self, event_id: int, part: int, draft: MessageDraft, name: str) -> Sent:
        forum = _channel(draft)
        intent = self._intent(event_id, part, draft, _Where(forum), author=False)
        intent = _with_marker(intent, forum_marker(draft))
        row, _ = await self._storage.record_intent(intent)
        if row.status in ("sent", "deleted") and row.message_id is not None:
            return Sent(row.location, row.message_id, row.via_webhook)
        archive = self.blog.announce.thread_auto_archive
        sent = await self._attempt(
            row,
            self._port.create_forum_post(
                forum, name, draft, marker=row.marker or intent.marker or "", auto_archive=archive
            ),
        )
        await self._storage.mark_sent(
            row.id, sent.message_id, via_webhook=False, thread_id=sent.channel_id
        )
        return sent

    async def _thread_for(
        self, event_id: int, post_key: str, entry: Entry, draft: MessageDraft
    ) -> PostThread | None:
        """The post's thread; opened with a short starter when the post was never announced."""
        found = await self._storage.post_thread(self.blog.name, post_key)
        if found is not None:
            return found
        starter = _starter_draft(entry, draft, self.blog.announce.channel)
        log.info(
            "%s: post %s was never announced; opening a thread for its comments",
            self.blog.name,
            post_key,
        )
        return await self._open_thread(event_id, STARTER_PART, starter, post_key)

    # Comments

    async def _new_comment(self, event_id: int, entry: Entry, drafts: list[MessageDraft]) -> None:
        if not drafts:
            return
        shown = await self._storage.sent_messages_for(self.blog.name, entry.key)
        if any(message.event_id != event_id for message in shown):
            log.info("%s: %s is already in Discord; not sent again", self.blog.name, entry.key)
            return
        if entry.post_key is None:
            log.warning(
                "%s: %s names no post, so it has no thread to go to; dropped",
                self.blog.name,
                entry.key,
            )
            return
        thread = await self._thread_for(event_id, entry.post_key, entry, drafts[0])
        if thread is None:
            log.warning("%s: %s has no thread to go to; dropped", self.blog.name, entry.key)
            return
        where = _Where(thread.channel_id, thread.thread_id)
        reply = await self._reply_target(drafts[0].reply_to)
        for draft in drafts:
            author = draft.kind != "pingback"
            first = reply if draft.part == 1 else None
            await self._send(event_id, draft, where, author=author, reply_to=first)

    async def _reply_target(self, parent_key: str | None) -> ReplyTarget | None:
        """The message carrying the first part of the parent comment, if it is in Discord: our
        mirror of it, or the Discord message it was relayed from."""
        if parent_key is None:
            return None
        shown = await self._storage.sent_messages_for(self.blog.name, parent_key)
        first = shown[0] if shown else None
        if first is None or first.message_id is None:
            relayed = await self._storage.relayed_entry(self.blog.name, parent_key)
            if relayed is None:
                return None
            return ReplyTarget(relayed.channel_id, relayed.message_id, relayed.author_name)
        return ReplyTarget(first.location, first.message_id, first.author)

    async def _edited(self, event_id: int, entry: Entry, drafts: list[MessageDraft]) -> None:
        """Edit the parts in place; send the parts that are new, delete the ones left over."""
        if entry.kind in (EntryKind.PINGBACK, EntryKind.TRACKBACK):
            return
        shown = await self._shown(entry.key)
        if not shown:
            log.info("%s: edited %s is not in Discord; nothing to edit", self.blog.name, entry.key)
            return
        where = _Where(shown[0].channel_id, shown[0].thread_id)
        by_part = {message.part: message for message in shown}
        for draft in drafts:
            message = by_part.pop(draft.part, None)
            if message is not None:
                await self._edit(message, draft)
            else:
                await self._send(event_id, draft, where, author=True)
        for message in by_part.values():
            await self._delete(message)

    async def _removed(self, key: str) -> None:
        for message in await self._shown(key):
            await self._delete(message)

    async def _shown(self, key: str) -> list[MirroredMessage]:
        """The messages showing a comment (never a post's announcement, whatever the key)."""
        shown = await self._storage.sent_messages_for(self.blog.name, key)
        return [message for message in shown if message.kind != "post"]

    async def _edit(self, message: MirroredMessage, draft: MessageDraft) -> None:
        assert message.message_id is not None  # a sent row has one
        sent = Sent(message.location, message.message_id, message.via_webhook)
        try:
            await self._port.edit(sent, message.channel_id, draft)
        except MessageGone:
            await self._storage.mark_deleted(message.id)

    async def _delete(self, message: MirroredMessage) -> None:
        assert message.message_id is not None
        sent = Sent(message.location, message.message_id, message.via_webhook)
        try:
            await self._port.delete(sent, message.channel_id)
        except MessageGone:
            pass
        await self._storage.mark_deleted(message.id)

    # Sends

    def _intent(
        self, event_id: int, part: int, draft: MessageDraft, where: _Where, *, author: bool
    ) -> MessageIntent:
        return MessageIntent(
            event_id=event_id,
            part=part,
            blog=self.blog.name,
            entry_key=draft.key,
            kind=draft.kind,
            channel_id=where.channel_id,
            thread_id=where.thread_id,
            nonce=nonce(event_id, part),
            via_webhook=author,
            marker=marker(draft),
            author=draft.username,
        )

    async def _send(
        self,
        event_id: int,
        draft: MessageDraft,
        where: _Where,
        *,
        author: bool,
        reply_to: ReplyTarget | None = None,
        part: int | None = None,
    ) -> Sent:
        """Create one message exactly once (see the module docstring).

        ``author``: under the draft's username (``send_as_author``), else a bot message.
        """
        number = part if part is not None else draft.part
        intent = self._intent(event_id, number, draft, where, author=author)
        row, new = await self._storage.record_intent(intent)
        if row.status in ("sent", "deleted") and row.message_id is not None:
            return Sent(row.location, row.message_id, row.via_webhook)
        if author and not new and row.status == "pending":
            found = await self._find(row)
            if found is not None:
                log.info(
                    "%s: found %s part %d already sent; adopted",
                    self.blog.name,
                    row.entry_key,
                    row.part,
                )
                await self._storage.mark_sent(
                    row.id, found.message_id, via_webhook=found.via_webhook
                )
                return found
        sent = await self._attempt(row, self._create(draft, where, row.nonce, author, reply_to))
        await self._storage.mark_sent(row.id, sent.message_id, via_webhook=sent.via_webhook)
        return sent

    async def _find(self, row: MirroredMessage) -> Sent | None:
        """A message of an earlier attempt whose outcome we did not learn."""
        if row.thread_id is None or not row.marker:
            return None
        after = await self._storage.last_sent_in_thread(row.thread_id)
        return await self._port.find_sent(row.thread_id, row.marker, after=after)

    async def _create(
        self,
        draft: MessageDraft,
        where: _Where,
        message_nonce: str,
        author: bool,
        reply_to: ReplyTarget | None,
    ) -> Sent:
        """Send, retrying once without the reply when the replied-to message is gone."""
        try:
            return await self._send_once(draft, where, message_nonce, author, reply_to)
        except MessageGone:
            if reply_to is None:
                raise
            log.info(
                "%s: the message %s replies to is gone; sent without the reply",
                self.blog.name,
                draft.key,
            )
            return await self._send_once(draft, where, message_nonce, author, None)

    async def _send_once(
        self,
        draft: MessageDraft,
        where: _Where,
        message_nonce: str,
        author: bool,
        reply_to: ReplyTarget | None,
    ) -> Sent:
        if author and where.thread_id is not None:
            return await self._port.send_as_author(
                where.channel_id, where.thread_id, draft, reply_to=reply_to
            )
        return await self._port.send_message(
            where.location, draft, nonce=message_nonce, reply_to=reply_to
        )

    async def _attempt(self, row: MirroredMessage, call: Awaitable[Sent]) -> Sent:
        """Await a creating call, recording on the intent how it went wrong."""
        try:
            return await call
        except PermanentDiscordError as error:
            await self._storage.mark_failed(row.id, describe(error))
            raise
        except DiscordError as error:  # transient: the message may or may not exist
            await self._storage.note_error(row.id, describe(error))
            raise


def _channel(draft: MessageDraft) -> int:
    if draft.channel is None:
        raise ValueError(f"draft for {draft.key} names no channel")
    return draft.channel


def _with_marker(intent: MessageIntent, text: str) -> MessageIntent:
    return dataclasses.replace(intent, marker=text)


def _starter_draft(entry: Entry, draft: MessageDraft, channel: int) -> MessageDraft:
    """The short message that opens a thread for comments on a post never announced."""
    title = html_to_text(entry.post_title or "")
    url = safe_url(entry.post_url)
    label = f"**{neutralise_mentions(escape_markdown(title))}**" if title else None
    link = f"<{url}>" if url else None
    content = "💬 Comments on " + (" ".join(x for x in (label, link) if x) or "an earlier post")
    return MessageDraft(
        channel=channel,
        thread=draft.thread or THREAD_NAME_FALLBACK,
        content=content,
        kind="post",
        key=entry.post_key or entry.key,
        post_key=entry.post_key,
    )
