"""The relay outbox across crashes and outages, against a real WordPress.

``Relayer`` is driven directly (no Discord): real storage (SQLite file and PostgreSQL), real
``BlogClients`` on a real WordPress, a fake feedback port that keeps what it showed across
"processes" as Discord would (reactions are a set, replies are deduplicated by nonce, as
discord.py's ``enforce_nonce`` makes Discord do). A numbered checkpoint before and after every
storage write, every blog call and every feedback call raises :class:`Crash` (a BaseException,
like a kill); a fresh ``Relayer`` on a new connection to the same database then finishes, and
the blog itself (read through WordPress, not the client under test) must hold exactly one
comment.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import aiohttp
import pytest

from bot.blogs import BlogComment, BlogError, CommentClient
from bot.config import BlogConfig, Settings
from bot.feeds.models import Entry, EntryKind
from bot.feeds.plan import posts_key
from bot.relay import BlogClients, ChatMessage, Relayer
from bot.storage import PostThread, RelayRequest, Storage
from bot.storage.records import FeedState, ItemWrite, UpdateResult
from tests.announce.crash import Checkpoints, Crash
from tests.cogs.gatejumper import PASSWORD_ENV
from tests.cogs.relay_setup import relay_blog
from tests.wp import WordPress, WordPressError

pytestmark = pytest.mark.wordpress

BLOG = "modite"
CHANNEL = 1_100
THREAD = 1_200
GUILD = 1_300
BOB = 1_400
STORAGE_WRITES = frozenset({"record_relay", "update_relay"})
BLOG_CALLS = frozenset(
    {"create_comment", "update_comment", "delete_comment", "comments_since", "get_comment"}
)
DOWN_OPTION = "gatejumper_comments_down"
DOWN_PLUGIN = f"""
add_filter('rest_pre_dispatch', function ($result, $server, $request) {{
    if (get_option('{DOWN_OPTION}') && $request->get_method() !== 'GET'
        && str_starts_with($request->get_route(), '/wp/v2/comments')) {{
        return new WP_Error('maintenance', 'Comments are under maintenance',
            ['status' => 503]);
    }}
    return $result;
}}, 10, 3);
"""

_message_ids = itertools.count(50_000)


# -- the world: a WordPress, a clock, a Discord that remembers ------------------------------


@pytest.fixture(scope="module")
def blog_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WordPress]:
    """One WordPress for the module (each test makes its own post); comments it refuses with a
    503 while the option ``DOWN_OPTION`` is set."""
    try:
        site = WordPress.provision(tmp_path_factory.mktemp("relay-wordpress"))
    except WordPressError as error:
        pytest.fail(f"could not provision the test WordPress: {error}", pytrace=False)
    try:
        site.add_mu_plugin("gatejumper-comments-down", DOWN_PLUGIN)
        yield site
    finally:
        site.close()


@pytest.fixture
def wp(blog_site: WordPress, monkeypatch: pytest.MonkeyPatch) -> WordPress:
    monkeypatch.setenv(PASSWORD_ENV, blog_site.bot.app_password)
    return blog_site


class Clock:
    """Wall time plus whatever the test skipped ahead (WordPress dates stay comparable)."""

    def __init__(self) -> None:
        self.skipped = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.skipped

    def advance(self, seconds: float) -> None:
        self.skipped += timedelta(seconds=seconds)


@dataclass
class FakeFeedback:
    """What Discord shows: the bot's reactions per message, its replies per message by nonce."""

    reactions: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    replies: dict[int, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    reply_calls: Counter[int] = field(default_factory=Counter)
    hook: Callable[[str], None] | None = None

    def _pass(self, name: str) -> None:
        if self.hook is not None:
            self.hook(name)

    async def react(self, channel_id: int, message_id: int, emoji: str) -> None:
        self._pass("before react")
        self.reactions[message_id].add(emoji)
        self._pass("after react")

    async def unreact(self, channel_id: int, message_id: int, emoji: str) -> None:
        self._pass("before unreact")
        self.reactions[message_id].discard(emoji)
        self._pass("after unreact")

    async def reply(self, channel_id: int, message_id: int, text: str, *, nonce: str) -> None:
        self._pass("before reply")
        self.reply_calls[message_id] += 1
        self.replies[message_id].setdefault(nonce, text)
        self._pass("after reply")


class Hooked:
    """An object whose ``methods`` pass checkpoints before and after (everything else as is)."""

    def __init__(self, inner: Any, methods: frozenset[str], hook: Callable[[str], None]) -> None:
        self._inner = inner
        self._methods = methods
        self._hook = hook

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in self._methods:
            return attribute
        method = cast(Callable[..., Awaitable[Any]], attribute)

        async def hooked(*args: Any, **kwargs: Any) -> Any:
            label = name + _label(kwargs) if name == "update_relay" else name
            self._hook(f"before {label}")
            result = await method(*args, **kwargs)
            self._hook(f"after {label}")
            return result

        return hooked


def _label(kwargs: dict[str, Any]) -> str:
    shown = [f"{k}={kwargs[k]}" for k in ("status", "feedback") if k in kwargs]
    return f"({', '.join(shown)})" if shown else ""


class RacingLookups:
    """The first ``misses`` lookups find nothing: they ran while the dead process's POST was
    still being handled by WordPress. Records the blog errors the client raised."""

    def __init__(self, inner: CommentClient, misses: int) -> None:
        self._inner = inner
        self.misses = misses
        self.errors: list[BlogError] = []
        self.posts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def comments_since(self, *args: Any, **kwargs: Any) -> list[BlogComment]:
        if self.misses > 0:
            self.misses -= 1
            return []
        result: list[BlogComment] = await self._inner.comments_since(*args, **kwargs)
        return result

    async def create_comment(self, *args: Any, **kwargs: Any) -> BlogComment:
        self.posts += 1
        try:
            comment: BlogComment = await self._inner.create_comment(*args, **kwargs)
        except BlogError as error:
            self.errors.append(error)
            raise
        return comment


class Clients:
    """Real ``BlogClients``; each client wrapped with checkpoints (and racing lookups)."""

    def __init__(self, inner: BlogClients, hook: Callable[[str], None], misses: int) -> None:
        self._inner = inner
        self._hook = hook
        self._misses = misses
        self.racing: RacingLookups | None = None

    async def client(self, blog: BlogConfig, account: str | None) -> CommentClient:
        real = await self._inner.client(blog, account)
        if self.racing is None:
            self.racing = RacingLookups(real, self._misses)
        return cast(CommentClient, Hooked(self.racing, BLOG_CALLS, self._hook))


@dataclass
class Process:
    """One run of Gatejumper: its own database connection, HTTP session and relayer."""

    relayer: Relayer
    storage: Storage
    clients: Clients


@contextlib.asynccontextmanager
async def process(
    url: str,
    blog: BlogConfig,
    port: FakeFeedback,
    clock: Clock,
    checkpoints: Checkpoints | None = None,
    *,
    misses: int = 0,
) -> AsyncIterator[Process]:
    hook = checkpoints or Checkpoints(None)
    port.hook = hook
    try:
        async with (
            await Storage.open(url, clock=clock) as storage,
            aiohttp.ClientSession() as session,
        ):
            clients = Clients(BlogClients(session, storage), hook, misses)
            relayer = Relayer(
                Settings(database=url, blogs=[blog]),
                cast(Storage, Hooked(storage, STORAGE_WRITES, hook)),
                clients,
                port,
                clock=clock,
                random=lambda: 0.5,  # no jitter: the backoff is exactly 1, 2, 4... seconds
            )
            yield Process(relayer, storage, clients)
    finally:
        port.hook = None


@dataclass
class Bridged:
    """A WordPress post that storage knows (its item, its thread) and its relay config."""

    wp: WordPress
    url: str
    blog: BlogConfig
    post_id: int
    clock: Clock
    port: FakeFeedback

    def message(self, text: str, message_id: int | None = None) -> ChatMessage:
        return ChatMessage(
            message_id=message_id or next(_message_ids),
            channel_id=THREAD,
            guild_id=GUILD,
            author_id=BOB,
            author_name="Bob",
            content=text,
            created_at=self.clock(),
        )

    def process(self, checkpoints: Checkpoints | None = None, **options: Any) -> Any:
        return process(self.url, self.blog, self.port, self.clock, checkpoints, **options)

    def comments(self) -> list[dict[str, Any]]:
        """Every comment of the post, trashed ones too, as WordPress's database has them."""
        return self.wp.comments_of(self.post_id)

    def comments_saying(self, *texts: str) -> list[dict[str, Any]]:
        return [c for c in self.comments() if c["content"] in texts]


async def bridge(wp: WordPress, url: str, **relay: Any) -> Bridged:
    blog = relay_blog(wp, CHANNEL, guests="approved", per_user_per_minute=1000, **relay)
    post_id = wp.create_post("Durable replies", "<p>A post for the relay.</p>")
    post_key = f"post-{post_id}"
    clock = Clock()
    entry = Entry(
        kind=EntryKind.POST,
        key=post_key,
        url=f"{wp.url}/?p={post_id}",
        title="Durable replies",
        native_id=str(post_id),
    )
    feed = FeedState(key=posts_key(blog), blog=BLOG, url=wp.api_root, role="posts")
    async with await Storage.open(url, clock=clock) as storage:
        await storage.apply_update(UpdateResult(feed, (ItemWrite(BLOG, entry, "hash"),)))
        await storage.save_post_thread(PostThread(BLOG, post_key, CHANNEL, THREAD))
    return Bridged(wp, url, blog, post_id, clock, FakeFeedback())


async def crash_then_restart(
    bridged: Bridged,
    step: Callable[[Relayer], Awaitable[object]],
    crash_at: int | None,
    *,
    misses: int = 0,
) -> tuple[Checkpoints, Process | None]:
    """Run ``step`` and a drain in one process dying at ``crash_at``; then a new process replays
    ``step`` (the gateway may deliver the event again) and drains."""
    checkpoints = Checkpoints(crash_at)
    if crash_at is None:
        async with bridged.process(checkpoints) as run:
            await step(run.relayer)
            await run.relayer.drain(BLOG)
        return checkpoints, None
    with pytest.raises(Crash):
        async with bridged.process(checkpoints) as run:
            await step(run.relayer)
            await run.relayer.drain(BLOG)
    async with bridged.process(misses=misses) as restarted:
        await step(restarted.relayer)
        await restarted.relayer.drain(BLOG)
        assert await restarted.storage.open_relay_counts() == {}
    return checkpoints, restarted


def crash_points(passed: list[str]) -> list[tuple[int, str]]:
    """Every "before" checkpoint, and "after" each blog call (the call landed, its outcome is
    not stored yet). Any other "after X" leaves the state of the "before Y" that follows."""
    return [
        (k, name)
        for k, name in enumerate(passed, 1)
        if name.startswith("before") or name.removeprefix("after ") in BLOG_CALLS
    ]


async def relay_all(bridged: Bridged, messages: list[ChatMessage]) -> None:
    """Accept and relay ``messages`` with no crash (the state follow-ups start from)."""
    async with bridged.process() as run:
        for message in messages:
            assert (await run.relayer.accept(message)).outcome == "accepted"
        await run.relayer.drain(BLOG)


async def row_of(bridged: Bridged, message_id: int) -> Any:
    async with await Storage.open(bridged.url, clock=bridged.clock) as storage:
        return await storage.relay_of_message(message_id)


async def assert_published_once(bridged: Bridged, message: ChatMessage, why: str) -> None:
    """One comment with the text on the blog, the row published with it, ✅ and one link."""
    found = bridged.comments_saying(message.content)
    assert len(found) == 1, (why, found)
    [comment] = found
    row = await row_of(bridged, message.message_id)
    assert (row.status, row.comment_id, row.feedback) == (
        "published",
        str(comment["id"]),
        "published",
    ), why
    assert (comment["status"], comment["author"]) == ("approved", "Bob (via Discord)"), why
    assert row.entry_key == f"comment-{comment['id']}", why
    assert bridged.port.reactions[message.message_id] == {"✅"}, why
    assert list(bridged.port.replies[message.message_id].values()) == [
        f"✅ On the blog: <{row.link}>"
    ], why
    assert row.link.endswith(f"#comment-{comment['id']}"), why


# -- kill mid-relay: exactly one comment ----------------------------------------------------


async def test_a_crash_at_any_step_of_a_relay_leaves_exactly_one_comment(
    wp: WordPress, database_url: str
) -> None:
    bridged = await bridge(wp, database_url)
    reference = bridged.message("The reference reply, never interrupted")
    checkpoints, _ = await crash_then_restart(bridged, lambda r: r.accept(reference), None)
    await assert_published_once(bridged, reference, "reference")
    names = checkpoints.passed
    for needed in (
        "after record_relay",
        "after update_relay(status=sending)",
        "before create_comment",
        "after create_comment",  # the POST landed; its outcome is not stored: reconcile
        "before update_relay(status=published)",
        "after react",
        "after reply",
        "before update_relay(feedback=published)",
    ):
        assert needed in names, (needed, names)
    points = crash_points(names)
    assert len(points) >= 8
    for k, name in points:
        message = bridged.message(f"Reply {k}, interrupted at {name}")
        crashed, restarted = await crash_then_restart(bridged, lambda r, m=message: r.accept(m), k)
        assert crashed.passed[-1] == name
        await assert_published_once(bridged, message, f"crash at {k} ({name})")
        reposted = restarted.clients.racing.posts if restarted and restarted.clients.racing else 0
        posted_before_the_crash = k > names.index("before create_comment") + 1
        assert reposted == (0 if posted_before_the_crash else 1), name
        assert bridged.port.reply_calls[message.message_id] <= 2, name


async def test_a_crash_after_the_post_then_a_409_on_the_repost_adopts_the_comment(
    wp: WordPress, database_url: str
) -> None:
    """The restart's lookup raced the dead process's POST (still in WordPress): it posts again,
    WordPress answers 409 comment_duplicate, and the comment found then is adopted."""
    bridged = await bridge(wp, database_url)
    probe = bridged.message("A reply that shows where the POST is")
    checkpoints, _ = await crash_then_restart(bridged, lambda r: r.accept(probe), None)
    crash_at = checkpoints.passed.index("after create_comment") + 1

    duplicate = bridged.message("A reply WordPress will call a duplicate")
    _, restarted = await crash_then_restart(
        bridged, lambda r: r.accept(duplicate), crash_at, misses=1
    )
    await assert_published_once(bridged, duplicate, "409 on the re-POST")
    assert restarted is not None and restarted.clients.racing is not None
    racing = restarted.clients.racing
    assert racing.posts == 1
    assert [(e.status, e.code) for e in racing.errors] == [(409, "comment_duplicate")]


async def test_the_restart_does_not_adopt_someone_elses_comment_with_the_same_text(
    wp: WordPress, database_url: str
) -> None:
    """Killed before its POST; meanwhile Dana wrote the same short reply on the blog itself.
    The lookup must not take Dana's comment for Bob's: Bob's reply is posted."""
    bridged = await bridge(wp, database_url)
    probe = bridged.message("A reply that shows where the POST is")
    checkpoints, _ = await crash_then_restart(bridged, lambda r: r.accept(probe), None)
    crash_at = checkpoints.passed.index("before create_comment")
    dana = wp.create_comment(bridged.post_id, "Dana", "dana@example.org", "Thanks!")
    message = bridged.message("Thanks!")
    await crash_then_restart(bridged, lambda r: r.accept(message), crash_at)
    comments = bridged.comments_saying("Thanks!")
    assert (comments[0]["id"], comments[0]["author"]) == (dana, "Dana")
    assert [c["author"] for c in comments] == ["Dana", "Bob (via Discord)"]
    row = await row_of(bridged, message.message_id)
    assert (row.status, row.comment_id) == ("published", str(comments[1]["id"]))


async def test_an_edit_crashed_at_any_step_is_applied_once(
    wp: WordPress, database_url: str
) -> None:
    bridged = await bridge(wp, database_url)
    reference = bridged.message("Before the reference edit")
    await relay_all(bridged, [reference])
    edit = _edited(reference, "After the reference edit")
    checkpoints, _ = await crash_then_restart(bridged, lambda r: r.edited(edit), None)
    assert "after update_comment" in checkpoints.passed
    points = crash_points(checkpoints.passed)
    originals = [bridged.message(f"Edit {k} not yet applied") for k, _ in points]
    await relay_all(bridged, originals)
    for (k, name), original in zip(points, originals, strict=True):
        [before] = bridged.comments_saying(original.content)
        edited = _edited(original, f"Edit {k} applied, interrupted at {name}")
        await crash_then_restart(bridged, lambda r, e=edited: r.edited(e), k)
        assert bridged.comments_saying(original.content) == [], name
        [after] = bridged.comments_saying(edited.content)
        assert (after["id"], after["status"]) == (before["id"], "approved"), name
        async with await Storage.open(bridged.url, clock=bridged.clock) as storage:
            assert await storage.latest_relay_content(original.message_id) == edited.content
        assert bridged.port.reactions[original.message_id] == {"✅"}, name
        assert len(bridged.port.replies[original.message_id]) == 1, name


async def test_a_delete_crashed_at_any_step_leaves_the_comment_trashed(
    wp: WordPress, database_url: str
) -> None:
    bridged = await bridge(wp, database_url)
    reference = bridged.message("Deleted for reference")
    await relay_all(bridged, [reference])
    checkpoints, _ = await crash_then_restart(
        bridged, lambda r: r.deleted(reference.message_id), None
    )
    assert "after delete_comment" in checkpoints.passed
    assert bridged.comments_saying(reference.content)[0]["status"] == "trash"
    points = crash_points(checkpoints.passed)
    messages = [bridged.message(f"Deleted {k}, interrupted at {name}") for k, name in points]
    await relay_all(bridged, messages)
    for (k, name), message in zip(points, messages, strict=True):
        await crash_then_restart(bridged, lambda r, m=message: r.deleted(m.message_id), k)
        [comment] = bridged.comments_saying(message.content)
        assert comment["status"] == "trash", name
        row = await row_of(bridged, message.message_id)
        assert row.status == "deleted", name


def _edited(message: ChatMessage, text: str) -> ChatMessage:
    return ChatMessage(
        message_id=message.message_id,
        channel_id=message.channel_id,
        guild_id=message.guild_id,
        author_id=message.author_id,
        author_name=message.author_name,
        content=text,
        created_at=message.created_at,
        edited_at=message.created_at + timedelta(seconds=30),
    )


# -- a blog that answers 503: backoff, then once; or give up ----------------------------------


@contextlib.contextmanager
def comments_down(wp: WordPress) -> Iterator[None]:
    wp.set_option(DOWN_OPTION, "1")
    try:
        yield
    finally:
        wp.set_option(DOWN_OPTION, "")


async def test_a_503_waits_with_backoff_and_lands_once_after_recovery(
    wp: WordPress, database_url: str
) -> None:
    bridged = await bridge(wp, database_url, retry_max=timedelta(seconds=3))
    message = bridged.message("Written while the blog said 503")
    async with bridged.process() as run:
        with comments_down(wp):
            await run.relayer.accept(message)
            delays = []
            for _ in range(4):
                assert await run.relayer.drain(BLOG) == 1
                row = await run.storage.relay_of_message(message.message_id)
                assert row.status in ("queued", "sending") and row.comment_id is None
                assert "HTTP 503" in row.error and row.next_attempt_at is not None
                delays.append((row.next_attempt_at - bridged.clock()).total_seconds())
                assert await run.relayer.drain(BLOG) == 0  # not due yet: nothing is tried
                bridged.clock.advance(delays[-1])
            assert [round(d) for d in delays] == [1, 2, 3, 3]
            assert row.attempts == 4
            assert bridged.port.reactions[message.message_id] == set()
        assert await run.relayer.drain(BLOG) == 1
    await assert_published_once(bridged, message, "after the 503s")


async def test_a_blog_failing_past_give_up_after_fails_the_reply_with_a_reason(
    wp: WordPress, database_url: str
) -> None:
    bridged = await bridge(wp, database_url, give_up_after=timedelta(hours=1))
    message = bridged.message("Written while the blog said 503 for too long")
    async with bridged.process() as run:
        with comments_down(wp):
            await run.relayer.accept(message)
            assert await run.relayer.drain(BLOG) == 1
            bridged.clock.advance(3600)
            later = bridged.message("Written an hour later, while still 503")
            await run.relayer.accept(later)
            assert await run.relayer.drain(BLOG) == 2  # the first gives up; the second waits
            row = await run.storage.relay_of_message(message.message_id)
            second = await run.storage.relay_of_message(later.message_id)
        assert (row.status, row.feedback, row.comment_id) == ("failed", "failed", None)
        assert row.reason.startswith("The blog could not be reached for too long")
        assert second.status in ("queued", "sending") and second.attempts == 1
        bridged.clock.advance(5)
        assert await run.relayer.drain(BLOG) == 1
    assert bridged.comments_saying(message.content) == []
    assert bridged.port.reactions[message.message_id] == {"❌"}
    assert list(bridged.port.replies[message.message_id].values()) == [f"❌ {row.reason}"]
    await assert_published_once(bridged, later, "the next reply once the blog is back")


# -- echo suppression: never mirror a relayed comment back ----------------------------------


async def test_the_echo_verdict_waits_while_a_relay_is_in_flight(database_url: str) -> None:
    """The announcer may poll a relayed comment before the relay stored its id: "wait" then."""
    async with await Storage.open(database_url) as storage:
        request = RelayRequest(
            blog=BLOG,
            op="create",
            dedupe_key="create:1",
            message_id=1,
            channel_id=THREAD,
            user_id=BOB,
            author_name="Bob (via Discord)",
            account=None,
            post_key="post-1",
            content="Hello",
        )
        row, created = await storage.record_relay(request)
        assert created
        assert await storage.echo_verdict(BLOG, "comment-7") == "theirs"  # queued: not posted
        await storage.update_relay(row.id, status="sending")
        assert await storage.echo_verdict(BLOG, "comment-7") == "wait"  # the POST is in flight
        assert await storage.echo_verdict(BLOG, "comment-7", "post-1") == "wait"
        assert await storage.echo_verdict(BLOG, "comment-7", "post-2") == "theirs"
        assert await storage.echo_verdict("another-blog", "comment-7") == "theirs"
        await storage.update_relay(row.id, status="queued", attempts=1)
        assert await storage.echo_verdict(BLOG, "comment-7") == "theirs"  # the blog said no
        await storage.update_relay(
            row.id, status="published", comment_id="7", entry_key="comment-7"
        )
        assert await storage.echo_verdict(BLOG, "comment-7") == "ours"
        assert await storage.echo_verdict(BLOG, "comment-8") == "theirs"
        again, created = await storage.record_relay(request)
        assert (again.id, created) == (row.id, False)
        await storage.update_relay(row.id, status="deleted")
        assert await storage.echo_verdict(BLOG, "comment-7") == "ours"  # its removal too
