"""The relay: Discord replies → blog comments, exactly once, in order per blog.

Every message is recorded in the relay outbox (:mod:`bot.storage.relays`) before any call to
the blog, and its outcome after. One lane per blog works through the outbox strictly in
order; a blog that cannot be reached stops its own lane only (retried with backoff, for up to
``relay.give_up_after``). A call whose outcome is unknown (a timeout, a crash) leaves its row
``sending``; before trying again the lane looks for the comment on the blog, and a WordPress
``comment_duplicate`` is resolved the same way, so nothing is posted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random as _random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from bot.blogs import (
    Author,
    BlogComment,
    BlogError,
    CommentClient,
    IssoComments,
    PostRef,
    WordPressComments,
)
from bot.blogs.errors import user_reason
from bot.config import BlogConfig, Settings
from bot.feeds.plan import isso_thread_uri
from bot.relay._feedback import Feedback
from bot.relay._intake import Intake
from bot.relay.content import plain_text
from bot.relay.models import ChatMessage, FeedbackPort, Verdict
from bot.storage import Relay, Storage, StorageError
from bot.storage.mirror import COMMENT_KINDS
from bot.storage.storage import utc_now

log = logging.getLogger("bot.relay")

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]

IDLE_SECONDS: Final = 60.0
BACKOFF_BASE_SECONDS: Final = 1.0
RECONCILE_SLACK: Final = timedelta(minutes=10)
NOT_ALLOWED_TO_SET_STATUS: Final = "rest_comment_invalid_status"
#: WordPress lets an Author edit or trash comments only on their own posts: a linked author's
#: comment on someone else's post is then changed through the blog's own (moderating) account.
CANNOT_EDIT: Final = "rest_cannot_edit"
CANNOT_DELETE: Final = "rest_cannot_delete"
UNEXPECTED: Final = (
    "Gatejumper hit an unexpected error while posting this to the blog; "
    "an operator can find the details in its log."
)


@dataclass(frozen=True, slots=True)
class RelayBacklog:
    waiting: int
    last_error: str | None
    next_retry: datetime | None


class ClientSource(Protocol):
    async def client(self, blog: BlogConfig, account: str | None) -> CommentClient: ...


class Relayer:
    """Takes Discord messages (``accept``, ``edited``, ``deleted``) and relays them.

    ``run`` works the lanes until stopped; ``drain`` is one pass over a blog (tests,
    commands); ``check_held`` turns held comments that a moderator approved into published.
    """

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        clients: ClientSource,
        feedback: FeedbackPort,
        *,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self._blogs = {blog.name: blog for blog in settings.blogs if blog.relay.enabled}
        self._storage = storage
        self._clients = clients
        self._feedback = feedback
        self._clock = clock
        self._sleep = sleep
        self._random = random
        self._woken = {name: asyncio.Event() for name in self._blogs}
        self._locks = {name: asyncio.Lock() for name in self._blogs}
        self._outcomes = {name: asyncio.Event() for name in self._blogs}
        self._running = False
        self._display = Feedback(storage, feedback, clock)
        self._intake = Intake(self._blogs, storage, self._display, clock, self.wake)
        self._approve_warned: set[str] = set()
        self._accounts_checked: set[str] = set()

    @property
    def enabled(self) -> bool:
        return bool(self._blogs)

    async def backlog(self, blog: str) -> RelayBacklog | None:
        """How ``blog``'s relay stands (``None`` when its relay is off), for ``/gatejumper
        status``: messages waiting, and why the oldest waits when it does."""
        if blog not in self._blogs:
            return None
        waiting = (await self._storage.open_relay_counts()).get(blog, 0)
        oldest = await self._storage.next_relay(blog) if waiting else None
        return RelayBacklog(
            waiting=waiting,
            last_error=oldest.error if oldest is not None else None,
            next_retry=oldest.next_attempt_at if oldest is not None else None,
        )

    def wake(self, blog: str | None = None) -> None:
        for name, event in self._woken.items():
            if blog is None or name == blog:
                event.set()

    # -- Discord → outbox (see _intake.py) ------------------------------------------------

    async def accept(self, message: ChatMessage) -> Verdict:
        """Record a new message for its blog, or refuse it with a short explanation."""
        return await self._intake.accept(message)

    async def edited(self, message: ChatMessage) -> Verdict:
        """Carry an edit to the blog comment (within ``relay.edit_window``)."""
        return await self._intake.edited(message)

    async def deleted(self, message_id: int) -> Verdict:
        """Trash the blog comment of a deleted message (within ``relay.edit_window``)."""
        return await self._intake.deleted(message_id)

    async def catch_up_from(self, threads: Callable[[int], int | None]) -> list[tuple[int, int]]:
        """Where to read what was written while offline (see :meth:`Intake.catch_up_from`)."""
        return await self._intake.catch_up_from(threads)

    async def check_accounts(self, blog: str) -> list[str]:
        """Log in as each WordPress account ``blog``'s relay uses and say, once, what is wrong:
        a refused password, or an account that cannot moderate while ``relay.guests`` needs it.
        Returns the problems (also logged as errors); run after the first poll, which finds
        the REST API."""
        config = self._blogs.get(blog)
        if config is None or config.platform != "wordpress" or blog in self._accounts_checked:
            return []
        self._accounts_checked.add(blog)
        problems: list[str] = []
        logins: list[tuple[str | None, str]] = [(None, "the blog's account")]
        logins += [
            (link.username, f"the linked account of Discord user {user}")
            for user, link in config.relay.authors.items()
            if link.app_password_env is not None
        ]
        for account, who in logins:
            try:
                client = await self._clients.client(config, account)
                if not isinstance(client, WordPressComments):
                    continue
                checked = await client.check_account()
            except BlogError as error:
                if error.transient:
                    self._accounts_checked.discard(blog)
                    return []
                problems.append(f"{who} cannot log in to the blog: {error}")
                continue
            if account is None and config.relay.guests != "off" and not checked.can_moderate:
                problems.append(
                    f"{who} ({checked.name}) cannot moderate comments, so guest replies "
                    "follow the blog's own moderation rules"
                    + (
                        " and are held instead of approved"
                        if config.relay.guests == "approved"
                        else ""
                    )
                    + ": give it the Editor role"
                )
        for problem in problems:
            log.error("%s: relay: %s", blog, problem)
        return problems

    # -- the lanes -----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Work every blog's lane until ``stop`` is set (the call in flight is finished).

        Outcomes are shown in Discord by a second task per blog, so that Discord's rate limits
        on reactions and replies (5 messages per 5 s in a channel) never slow the blog lane.
        """
        tasks = [
            asyncio.create_task(self._lane(name, stop), name=f"relay {name}")
            for name in self._blogs
        ] + [
            asyncio.create_task(self._feedback_lane(name, stop), name=f"relay feedback {name}")
            for name in self._blogs
        ]
        self._running = True
        try:
            await stop.wait()
            for event in (*self._woken.values(), *self._outcomes.values()):
                event.set()
            if tasks:
                await asyncio.wait(tasks, timeout=10.0)
        finally:
            self._running = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def drain(self, blog: str) -> int:
        """Work ``blog``'s lane until nothing is due, then show the outcomes; returns how many
        rows were worked."""
        worked = 0
        while await self._step(blog) == 0:
            worked += 1
        await self._display.show_outcomes(blog)
        return worked

    async def _lane(self, blog: str, stop: asyncio.Event) -> None:
        woken = self._woken[blog]
        while not stop.is_set():
            woken.clear()
            try:
                delay = await self._step(blog)
            except StorageError as error:
                log.warning("%s: relay paused, the database failed: %s", blog, error)
                delay = 5.0
            if delay > 0 and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), timeout=delay)

    async def _feedback_lane(self, blog: str, stop: asyncio.Event) -> None:
        """Show outcomes as they come (and, every minute, those Discord refused before)."""
        changed = self._outcomes[blog]
        while not stop.is_set():
            changed.clear()
            try:
                await self._display.show_outcomes(blog)
            except StorageError as error:
                log.warning("%s: relay feedback paused, the database failed: %s", blog, error)
            if not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=IDLE_SECONDS)

    async def _outcomes_changed(self, blog: str) -> None:
        if self._running:
            self._outcomes[blog].set()
        else:
            await self._display.show_outcomes(blog)

    async def _step(self, blog: str) -> float:
        """Work the next due row of ``blog``: 0 when one was worked, else seconds to wait."""
        async with self._locks[blog]:
            row = await self._storage.next_relay(blog)
            if row is None:
                return IDLE_SECONDS
            now = self._clock()
            if row.next_attempt_at is not None and row.next_attempt_at > now:
                return max((row.next_attempt_at - now).total_seconds(), 0.01)
            await self._work(self._blogs[blog], row)
        if self._running:
            self._outcomes[blog].set()
        return 0

    async def _work(self, blog: BlogConfig, row: Relay) -> None:
        try:
            if row.op == "create":
                await self._create(blog, row)
            elif row.op == "edit":
                await self._edit(blog, row)
            else:
                await self._delete(blog, row)
        except BlogError as error:
            if error.transient or error.rate_limited:  # a flood limit passes with time
                await self._retry_later(blog, row, error)
            else:
                await self._fail(row, _reason(error), error)
        except StorageError:
            raise
        except Exception as error:
            log.exception("%s: relaying message %s failed unexpectedly", blog.name, row.message_id)
            await self._fail(row, UNEXPECTED, error)

    # -- one row ---------------------------------------------------------------------------

    async def _create(self, blog: BlogConfig, row: Relay) -> None:
        post = await self._post_ref(blog, row.post_key)
        if post is None:
            await self._fail(row, "The post of this thread is no longer on the blog.", None)
            return
        client = await self._clients.client(blog, row.account)
        parent = await self._parent(blog, row)
        if row.status == "sending":  # an earlier call's outcome is unknown
            found = await self._existing(blog, row, post, parent)
            if found is not None:
                await self._adopt(row, found, client, "found on the blog after a retry")
                return
        row = await self._storage.update_relay(row.id, status="sending")
        try:
            comment = await self._post(blog, client, row, post, parent)
        except BlogError as error:
            if error.code != "comment_duplicate":
                if error.status is not None:  # the blog answered: nothing was created
                    await self._storage.update_relay(row.id, status="queued")
                raise
            found = await self._existing(blog, row, post, parent)
            if found is None:
                raise
            await self._adopt(row, found, client, "WordPress said duplicate; adopted")
            return
        await self._adopt(row, comment, client, "posted")

    async def _post(
        self,
        blog: BlogConfig,
        client: CommentClient,
        row: Relay,
        post: PostRef,
        parent: str | None,
    ) -> BlogComment:
        author = Author(name=row.author_name, guest=row.account is None)
        status = None
        if blog.platform == "wordpress" and row.account is None:
            status = "approved" if blog.relay.guests == "approved" else "hold"
        if status is None:
            return await client.create_comment(post, row.content, parent=parent, author=author)
        try:
            return await client.create_comment(  # type: ignore[call-arg]
                post, row.content, parent=parent, author=author, status=status
            )
        except BlogError as error:
            if error.code != NOT_ALLOWED_TO_SET_STATUS:
                raise
            self._warn_cannot_moderate(blog, status)
            return await client.create_comment(post, row.content, parent=parent, author=author)

    def _warn_cannot_moderate(self, blog: BlogConfig, status: str) -> None:
        if blog.name in self._approve_warned:
            return
        self._approve_warned.add(blog.name)
        assert blog.credentials is not None
        if status == "approved":
            log.error(
                "%s: relay.guests is 'approved' but the blog account %r cannot approve comments "
                "(WordPress refused to set their status): guest replies are held for moderation "
                "instead. Give the account the Editor role, or set relay.guests: moderated.",
                blog.name,
                blog.credentials.username,
            )
        else:
            log.warning(
                "%s: the blog account %r cannot hold comments for moderation itself; guest "
                "replies follow the blog's own moderation rules (Settings → Discussion).",
                blog.name,
                blog.credentials.username,
            )

    async def _adopt(
        self, row: Relay, comment: BlogComment, client: CommentClient, how: str
    ) -> None:
        if comment.status in ("spam", "trash", "deleted"):
            await self._fail(row, "The blog's spam filter refused this reply.", None)
            return
        status = "published" if comment.status == "approved" else "held"
        token = None
        if isinstance(client, IssoComments):
            token = client.export_cookies().get(comment.id)
        await self._storage.update_relay(
            row.id,
            status=status,
            comment_id=comment.id,
            entry_key=_entry_key(self._blogs[row.blog], comment.id),
            link=comment.link,
            edit_token=token,
            next_attempt_at=None,
            error=None,
        )
        log.info(
            "%s: message %s → comment %s (%s, %s)",
            row.blog,
            row.message_id,
            comment.id,
            status,
            how,
        )

    async def _existing(
        self, blog: BlogConfig, row: Relay, post: PostRef, parent: str | None
    ) -> BlogComment | None:
        """The comment an earlier attempt of ``row`` created, if the blog has it."""
        reader = await self._clients.client(blog, None)
        since = row.created_at - RECONCILE_SLACK
        candidates = await reader.comments_since(post, since, include_held=True)
        owned = await self._storage.owned_comments(blog.name, [c.id for c in candidates])
        wanted = _fingerprint(row.content)
        for comment in candidates:
            if comment.id in owned or not _same_parent(blog, comment.parent_id, parent):
                continue
            if not _same_author(comment, row):  # "Thanks!" from someone else is not ours
                continue
            text = getattr(comment, "content_raw", None) or comment.content_html
            if _fingerprint(text) == wanted:
                return comment
        return None

    async def _edit(self, blog: BlogConfig, row: Relay) -> None:
        found = await self._comment_of(row, "edit")
        if found is None:
            return
        created, comment_id = found
        client = await self._change(
            blog, created, CANNOT_EDIT, lambda c: c.update_comment(comment_id, row.content)
        )
        if isinstance(client, IssoComments):  # Isso signs a new edit cookie
            token = client.export_cookies().get(comment_id)
            await self._storage.update_relay(created.id, edit_token=token)
        await self._storage.update_relay(row.id, status="done", next_attempt_at=None, error=None)
        log.info("%s: message %s edited → comment %s", blog.name, row.message_id, comment_id)

    async def _delete(self, blog: BlogConfig, row: Relay) -> None:
        found = await self._comment_of(row, "delete")
        if found is None:
            return
        created, comment_id = found
        await self._change(blog, created, CANNOT_DELETE, lambda c: c.delete_comment(comment_id))
        await self._storage.update_relay(created.id, status="deleted")
        await self._storage.update_relay(row.id, status="done", next_attempt_at=None, error=None)
        log.info(
            "%s: message %s deleted → comment %s trashed", blog.name, row.message_id, comment_id
        )

    async def _comment_of(self, row: Relay, action: str) -> tuple[Relay, str] | None:
        """The relay that created the comment ``row`` changes, and that comment's id.

        ``None`` when there is none (never relayed, or deleted already): ``row`` is then done,
        with "nothing to ``action``".
        """
        created = await self._storage.relay_of_message(row.message_id)
        if created is None or created.comment_id is None or created.status == "deleted":
            await self._storage.update_relay(row.id, status="done", error=f"nothing to {action}")
            return None
        return created, created.comment_id

    async def _change(
        self,
        blog: BlogConfig,
        created: Relay,
        refused: str,
        change: Callable[[CommentClient], Awaitable[object]],
    ) -> CommentClient:
        """``change`` the comment as the account that wrote it; when the blog ``refused`` that
        account (see CANNOT_EDIT), as the blog's own. Returns the client that did it."""
        client = await self._client_for(blog, created)
        try:
            await change(client)
        except BlogError as error:
            if error.code != refused or created.account is None:
                raise
            client = await self._clients.client(blog, None)
            await change(client)
        return client

    async def _reader(self, blog: BlogConfig, created: Relay) -> CommentClient:
        """Who may read a held comment: the blog's own (moderating) account on WordPress, the
        holder of the edit cookie on Isso."""
        if blog.platform == "isso":
            return await self._client_for(blog, created)
        return await self._clients.client(blog, None)

    async def _client_for(self, blog: BlogConfig, created: Relay) -> CommentClient:
        client = await self._clients.client(blog, created.account)
        if isinstance(client, IssoComments) and created.comment_id and created.edit_token:
            client.import_cookies({created.comment_id: created.edit_token})
        return client

    async def _retry_later(self, blog: BlogConfig, row: Relay, error: BlogError) -> None:
        now = self._clock()
        if now - row.created_at >= blog.relay.give_up_after:
            why = (
                "The blog could not be reached for too long, so this was not carried there "
                f"({error.message})."
            )
            await self._fail(row, why, error)
            return
        attempts = row.attempts + 1
        delay = min(
            blog.relay.retry_max.total_seconds(),
            BACKOFF_BASE_SECONDS * 2 ** min(attempts - 1, 16),
        )
        delay *= 0.8 + 0.4 * self._random()
        level = logging.WARNING if attempts == 1 else logging.INFO
        log.log(
            level,
            "%s: relay of message %s waits %.1fs: %s",
            blog.name,
            row.message_id,
            delay,
            error,
        )
        await self._storage.update_relay(
            row.id,
            attempts=attempts,
            next_attempt_at=now + timedelta(seconds=delay),
            error=str(error),
        )

    async def _fail(self, row: Relay, reason: str, error: BaseException | None) -> None:
        log.warning("%s: message %s not relayed: %s", row.blog, row.message_id, error or reason)
        await self._storage.update_relay(
            row.id,
            status="failed",
            reason=reason,
            error=str(error) if error else None,
            next_attempt_at=None,
        )

    # -- where it goes ---------------------------------------------------------------------

    async def _post_ref(self, blog: BlogConfig, post_key: str) -> PostRef | None:
        items = await self._storage.get_items(blog.name, [post_key])
        post = items.get(post_key)
        if post is None:
            if blog.platform == "wordpress" and post_key.startswith("post-"):
                return PostRef(post_key.removeprefix("post-"))
            return None
        entry = post.entry
        if blog.platform == "isso":
            if not entry.url:
                return None
            return PostRef(isso_thread_uri(entry.url), link=entry.url, title=entry.title)
        native = entry.native_id or post_key.removeprefix("post-")
        return PostRef(native, link=entry.url, title=entry.title)

    async def _parent(self, blog: BlogConfig, row: Relay) -> str | None:
        """The blog comment the Discord message answers: a mirrored comment, or another
        relayed message's comment; ``None`` (top level) otherwise."""
        if row.reply_to is None:
            return None
        mirrored = await self._storage.mirrored_message(row.reply_to)
        if mirrored is not None:
            if mirrored.blog != blog.name or mirrored.kind not in COMMENT_KINDS:
                return None
            items = await self._storage.get_items(blog.name, [mirrored.entry_key])
            item = items.get(mirrored.entry_key)
            return item.entry.native_id if item is not None else None
        relayed = await self._storage.relay_of_message(row.reply_to)
        if relayed is not None and relayed.status in ("published", "held"):
            return relayed.comment_id
        return None

    async def check_held(self, blog: str) -> int:
        """Ask the blog about held comments; returns how many were approved since."""
        config = self._blogs.get(blog)
        if config is None:
            return 0
        approved = 0
        async with self._locks[blog]:
            for row in await self._storage.held_relays(blog):
                assert row.comment_id is not None
                try:
                    client = await self._reader(config, row)
                    comment = await client.get_comment(row.comment_id)
                except BlogError as error:
                    log.info("%s: cannot check held comment %s: %s", blog, row.comment_id, error)
                    if error.status == 404:
                        await self._fail(
                            row, "A moderator removed this reply from the blog.", error
                        )
                    continue
                if comment.status == "approved":
                    approved += 1
                    await self._storage.update_relay(
                        row.id, status="published", link=comment.link or row.link
                    )
                elif comment.status in ("spam", "trash", "deleted"):
                    await self._fail(row, "A moderator removed this reply from the blog.", None)
        await self._outcomes_changed(blog)
        return approved


def _entry_key(blog: BlogConfig, comment_id: str) -> str:
    """The key the poller gives this comment (see :class:`bot.feeds.models.Entry`)."""
    return f"isso-{comment_id}" if blog.platform == "isso" else f"comment-{comment_id}"


def _same_author(comment: BlogComment, row: Relay) -> bool:
    """A guest's comment carries the name it was posted under; a linked author's, an account."""
    if row.account is None:
        return _fingerprint(comment.author_name) == _fingerprint(row.author_name)
    return comment.author_id is not None


def _same_parent(blog: BlogConfig, stored: str | None, asked: str | None) -> bool:
    """Whether a comment stored under ``stored`` may be the answer to ``asked``: Isso keeps one
    level, so a reply to a reply is stored under its top-level comment, not ``asked``."""
    if stored == asked:
        return True
    return blog.platform == "isso" and stored is not None and asked is not None


def _fingerprint(text: str) -> str:
    return re.sub(r"\W+", "", plain_text(text)).casefold()


def _reason(error: BlogError) -> str:
    return user_reason(error) or f"The blog refused this reply: {error.message}"
