"""``DiscordPyPort``: the announcer core's :class:`~bot.announce.port.DiscordPort`, with discord.py.

Every Discord call of the announcer goes through here, so this is where
discord.py's exceptions become the port's three error kinds, where mentions
are locked down (only an announcement's role may ping), and where Discord's
quirks are absorbed: a thread that already exists, an archived thread, a
deleted webhook, a missing Manage Webhooks permission.

Webhooks cannot reply, so a reply sent through the webhook starts with a line
``↪ replying to **Name** · <jump url>`` pointing at the parent's message.

Webhook executes carry no nonce, and discord.py retries them on any 5xx, which
posts the message twice when only the response was lost. Webhook calls
therefore go through a session of our own whose middleware turns a 5xx into
an error at once; the announcer then looks for the message (``find_sent``)
before sending it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

import aiohttp
import discord
from discord.utils import MISSING

from bot.announce.port import (
    ChannelKind,
    DiscordError,
    MessageGone,
    PermanentDiscordError,
    ReplyTarget,
    Sent,
    TransientDiscordError,
)
from bot.embeds import embed_from_draft
from bot.render.limits import CONTENT_LIMIT
from bot.render.markdown import escape_markdown
from bot.render.messages import MessageDraft
from bot.storage import Webhook as StoredWebhook

if TYPE_CHECKING:
    from discord.ext import commands
    from discord.types.threads import ThreadArchiveDuration

log = logging.getLogger(__name__)

WEBHOOK_NAME: Final = "Gatejumper"
REPLY_PREFIX: Final = "↪ replying to "
FALLBACK_SUFFIX: Final = " (comment on the blog):"
JUMP_URL: Final = "https://discord.com/channels/{guild}/{channel}/{message}"
HISTORY_LIMIT: Final = 50
#: Longest one port call may take, discord.py's rate-limit waits and retries included.
CALL_TIMEOUT_SECONDS: Final = 120.0
ELLIPSIS: Final = "…"

UNKNOWN_CHANNEL: Final = 10003
UNKNOWN_MESSAGE: Final = 10008
UNKNOWN_WEBHOOK: Final = 10015
MISSING_ACCESS: Final = 50001
MISSING_PERMISSIONS: Final = 50013
THREAD_ARCHIVED: Final = 50083
TOO_MANY_WEBHOOKS: Final = 30007
THREAD_EXISTS: Final = 160004

_TRANSIENT_CAUSES = (
    discord.ConnectionClosed,
    discord.GatewayNotFound,
    aiohttp.ClientError,
    TimeoutError,
    OSError,
)


class WebhookServerError(aiohttp.ClientError):
    """A webhook call answered 5xx: it may or may not have taken effect (not retried blindly)."""

    def __init__(self, method: str, url: str, status: int) -> None:
        super().__init__(f"{method} {url.split('/webhooks/')[0]}/webhooks/… answered {status}")
        self.status = status


async def _no_blind_retries(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """aiohttp client middleware: a 5xx raises instead of reaching discord.py's retry loop."""
    response = await handler(request)
    if response.status >= 500:
        response.release()
        raise WebhookServerError(request.method, str(request.url), response.status)
    return response


class WebhookStore(Protocol):
    """Where the webhook of each channel is remembered across restarts (``bot.storage.Storage``)."""

    async def get_webhook(self, channel_id: int) -> StoredWebhook | None: ...

    async def save_webhook(self, webhook: StoredWebhook) -> None: ...

    async def delete_webhook(self, channel_id: int) -> None: ...


class DiscordPyPort:
    """The announcer's view of Discord, implemented with a logged-in discord.py client.

    ``webhooks`` remembers the relay webhook of each channel; without it they
    are only cached in memory (and found again by name after a restart).
    ``call_timeout`` bounds each call; one cut off raises TransientDiscordError.
    """

    def __init__(
        self,
        bot: commands.Bot,
        webhooks: WebhookStore | None = None,
        *,
        webhook_name: str = WEBHOOK_NAME,
        call_timeout: float = CALL_TIMEOUT_SECONDS,
    ) -> None:
        self.bot = bot
        self.call_timeout = call_timeout
        self.store = webhooks
        self.webhook_name = webhook_name
        self._webhooks: dict[int, discord.Webhook] = {}
        self._retired_webhooks: set[int] = set()
        self._webhook_locks: dict[int, asyncio.Lock] = {}
        self._fallback_warned: set[int] = set()
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the webhooks' HTTP session (call when the announcer has stopped)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- the port ------------------------------------------------------------------

    async def channel_kind(self, channel_id: int) -> ChannelKind:
        async with self._calling(channel_id, "look up the channel"):
            channel = await self._channel(channel_id)
        if isinstance(channel, discord.ForumChannel):
            return "forum"
        if isinstance(channel, discord.Thread):
            return "thread"
        if isinstance(channel, discord.TextChannel):
            return "text"
        return "other"

    async def send_message(
        self,
        channel_id: int,
        draft: MessageDraft,
        *,
        nonce: str,
        reply_to: ReplyTarget | None = None,
    ) -> Sent:
        target = self._messageable(channel_id)
        options: dict[str, Any] = {
            "nonce": nonce,
            "allowed_mentions": _mentions(draft),
            "embed": embed_from_draft(draft.embed) if draft.embed else MISSING,
        }
        if reply_to is not None:
            options["reference"] = _reference(reply_to)
        async with self._calling(channel_id, "send a message"):
            message = await self._reopening(
                channel_id, lambda: target.send(draft.content or None, **options)
            )
        return Sent(channel_id=message.channel.id, message_id=message.id, via_webhook=False)

    async def start_thread(
        self, channel_id: int, message_id: int, name: str, auto_archive: int
    ) -> int:
        async with self._calling(channel_id, "start a thread"):
            channel = await self._channel(channel_id)
            if not isinstance(channel, discord.TextChannel):
                raise PermanentDiscordError(
                    f"channel {channel_id} cannot have threads on its messages "
                    f"(it is {_describe(channel)})",
                    channel_id=channel_id,
                )
            starter = channel.get_partial_message(message_id)
            try:
                thread = await starter.create_thread(
                    name=name, auto_archive_duration=cast("ThreadArchiveDuration", auto_archive)
                )
            except discord.HTTPException as exc:
                if exc.code != THREAD_EXISTS:
                    raise
                fetched = await starter.fetch()
                return fetched.thread.id if fetched.thread else message_id
            return thread.id

    async def create_forum_post(
        self, forum_id: int, name: str, draft: MessageDraft, *, marker: str, auto_archive: int
    ) -> Sent:
        async with self._calling(forum_id, "create a forum post"):
            forum = await self._channel(forum_id)
            if not isinstance(forum, discord.ForumChannel):
                raise PermanentDiscordError(
                    f"channel {forum_id} is not a forum channel (it is {_describe(forum)})",
                    channel_id=forum_id,
                )
            existing = await self._find_forum_post(forum, name, marker)
            if existing is not None:
                log.info("forum post %r already exists in #%s; not posting again", name, forum)
                return existing
            created = await forum.create_thread(
                name=name,
                content=draft.content or None,
                embeds=[embed_from_draft(draft.embed)] if draft.embed else [],
                auto_archive_duration=cast("ThreadArchiveDuration", auto_archive),
                allowed_mentions=_mentions(draft),
            )
        return Sent(channel_id=created.thread.id, message_id=created.message.id, via_webhook=False)

    async def send_as_author(
        self,
        parent_id: int,
        thread_id: int,
        draft: MessageDraft,
        *,
        reply_to: ReplyTarget | None = None,
    ) -> Sent:
        reply_to = reply_to if draft.part == 1 else None
        async with self._calling(parent_id, "send a comment"):
            recreated = False
            while True:
                webhook = await self._webhook(parent_id)
                if webhook is None:
                    return await self._send_fallback(parent_id, thread_id, draft, reply_to)
                content = await self._with_reply_line(parent_id, draft.content, reply_to)
                execute = functools.partial(
                    webhook.send,
                    content,
                    username=draft.username or MISSING,
                    avatar_url=draft.avatar_url or MISSING,
                    embed=embed_from_draft(draft.embed) if draft.embed else MISSING,
                    thread=_thread(parent_id, thread_id),
                    allowed_mentions=discord.AllowedMentions.none(),
                    wait=True,
                )
                try:
                    message = await self._reopening(thread_id, execute)
                except discord.NotFound as exc:
                    if exc.code != UNKNOWN_WEBHOOK or recreated:
                        raise
                    recreated = True
                    await self._forget_webhook(parent_id, webhook)
                    continue
                return Sent(channel_id=thread_id, message_id=message.id, via_webhook=True)

    async def find_sent(
        self, thread_id: int, marker: str, *, after: int | None = None
    ) -> Sent | None:
        async with self._calling(thread_id, "read the thread's history"):
            ours = await self._our_webhook_ids(thread_id)
            history = self._messageable(thread_id).history(
                limit=HISTORY_LIMIT,
                after=discord.Object(after) if after is not None else None,
            )
            async for message in history:
                mine = message.webhook_id in ours or (
                    message.webhook_id is None and message.author.id == self._me()
                )
                if mine and marker in _text_of(message):
                    return Sent(
                        channel_id=thread_id,
                        message_id=message.id,
                        via_webhook=message.webhook_id is not None,
                    )
        return None

    async def edit(self, sent: Sent, parent_id: int, draft: MessageDraft) -> None:
        async with self._calling(parent_id, "edit a message"):
            if sent.via_webhook:
                await self._edit_webhook_message(sent, parent_id, draft)
                return
            message = self._messageable(sent.channel_id).get_partial_message(sent.message_id)
            content = draft.content
            if draft.username and draft.embed is None:
                content = _fit(_author_line(draft.username), content)
            await self._reopening(
                sent.channel_id,
                lambda: message.edit(
                    content=content or None,
                    embed=embed_from_draft(draft.embed) if draft.embed else MISSING,
                    allowed_mentions=discord.AllowedMentions.none(),
                ),
            )

    async def delete(self, sent: Sent, parent_id: int) -> None:
        async with self._calling(parent_id, "delete a message"):
            if sent.via_webhook:
                webhook = await self._webhook_for_old_message(parent_id)
                await self._reopening(
                    sent.channel_id,
                    lambda: webhook.delete_message(
                        sent.message_id, thread=_thread(parent_id, sent.channel_id)
                    ),
                )
                return
            message = self._messageable(sent.channel_id).get_partial_message(sent.message_id)
            await self._reopening(sent.channel_id, message.delete)

    # -- error kinds -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _calling(self, channel_id: int, action: str) -> AsyncIterator[None]:
        """discord.py's and aiohttp's exceptions → the port's error kinds, with a time limit.

        A call cut off by the limit has an unknown outcome, like one cut off by
        a crash: the announcer reconciles it (nonce, ``find_sent``).
        """
        if self.bot.is_closed() or self.bot.user is None:
            raise TransientDiscordError(f"cannot {action}: not connected to Discord")
        try:
            async with asyncio.timeout(self.call_timeout):
                yield
        except DiscordError:
            raise
        except discord.HTTPException as exc:
            raise _classify(exc, channel_id, action) from exc
        except WebhookServerError as exc:
            raise TransientDiscordError(
                f"cannot {action} in channel {channel_id}: {exc} (outcome unknown)",
                status=exc.status,
            ) from exc
        except _TRANSIENT_CAUSES as exc:
            raise TransientDiscordError(
                f"cannot {action} in channel {channel_id}: {type(exc).__name__}: {exc}"
            ) from exc
        except RuntimeError as exc:  # aiohttp's "Session is closed" while the bot shuts down
            if not self.bot.is_closed():
                raise
            raise TransientDiscordError(f"cannot {action}: the Discord client closed") from exc

    # -- the relay's feedback (bot.relay.models.FeedbackPort) ----------------------------

    async def react(self, channel_id: int, message_id: int, emoji: str) -> None:
        message = self._messageable(channel_id).get_partial_message(message_id)
        async with self._calling(channel_id, "add a reaction"):
            await self._reopening(channel_id, lambda: message.add_reaction(emoji))

    async def unreact(self, channel_id: int, message_id: int, emoji: str) -> None:
        message = self._messageable(channel_id).get_partial_message(message_id)
        me = discord.Object(self._me())
        async with self._calling(channel_id, "remove a reaction"):
            await self._reopening(channel_id, lambda: message.remove_reaction(emoji, me))

    async def reply(self, channel_id: int, message_id: int, text: str, *, nonce: str) -> None:
        """A short bot message answering ``message_id``: pings nobody, notifies nobody."""
        target = self._messageable(channel_id)
        reference = discord.MessageReference(
            message_id=message_id, channel_id=channel_id, fail_if_not_exists=False
        )
        options: dict[str, Any] = {
            "nonce": nonce,
            "reference": reference,
            "allowed_mentions": discord.AllowedMentions.none(),
            "suppress_embeds": True,
            "silent": True,
        }
        async with self._calling(channel_id, "reply"):
            await self._reopening(channel_id, lambda: target.send(text, **options))

    # -- channels and threads ------------------------------------------------------------

    def _me(self) -> int:
        assert self.bot.user is not None
        return self.bot.user.id

    async def _channel(self, channel_id: int) -> Any:
        """The channel from the cache, else from the API (archived threads are not cached)."""
        return self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)

    def _messageable(self, channel_id: int) -> Any:
        """Something to send to and read from; a partial one needs no cache (archived threads)."""
        channel = self.bot.get_channel(channel_id)
        if isinstance(channel, discord.abc.Messageable):
            return channel
        return self.bot.get_partial_messageable(channel_id, guild_id=self._guild_of(channel_id))

    def _guild_of(self, channel_id: int) -> int | None:
        channel = self.bot.get_channel(channel_id)
        guild = getattr(channel, "guild", None)
        if guild is not None:
            return int(guild.id)
        guilds = self.bot.guilds
        return guilds[0].id if len(guilds) == 1 else None

    async def _reopening(self, thread_id: int, call: Any) -> Any:
        """Run ``call``; if Discord says the thread is archived, reopen it and run it once more."""
        try:
            return await call()
        except discord.HTTPException as exc:
            if exc.code != THREAD_ARCHIVED:
                raise
        thread = await self._channel(thread_id)
        if not isinstance(thread, discord.Thread):
            raise PermanentDiscordError(
                f"channel {thread_id} says it is an archived thread but is {_describe(thread)}",
                channel_id=thread_id,
            )
        log.info("reopening the archived thread %r (%d)", thread.name, thread.id)
        await thread.edit(archived=False)
        return await call()

    async def _find_forum_post(
        self, forum: discord.ForumChannel, name: str, marker: str
    ) -> Sent | None:
        """Our post named ``name`` whose starter message carries ``marker`` (after a crash)."""
        candidates = {t.id: t for t in forum.threads if t.name == name}
        for thread in await forum.guild.active_threads():
            if thread.parent_id == forum.id and thread.name == name:
                candidates.setdefault(thread.id, thread)
        for thread in candidates.values():
            if thread.owner_id != self._me():
                continue
            starter = thread.starter_message
            if starter is None:
                try:
                    starter = await thread.fetch_message(thread.id)
                except discord.NotFound:
                    continue
            if marker in _text_of(starter):
                return Sent(channel_id=thread.id, message_id=starter.id, via_webhook=False)
        return None

    # -- webhooks ----------------------------------------------------------------------

    async def _webhook(self, parent_id: int) -> discord.Webhook | None:
        """The relay webhook of ``parent_id``: cached, stored, found by name or created.

        None when the bot may not manage webhooks there (or the channel has the
        maximum of 15): comments then go out as bot messages.
        """
        if (cached := self._webhooks.get(parent_id)) is not None:
            return cached
        lock = self._webhook_locks.setdefault(parent_id, asyncio.Lock())
        async with lock:
            if (cached := self._webhooks.get(parent_id)) is not None:
                return cached
            webhook = await self._stored_webhook(parent_id) or await self._new_webhook(parent_id)
            if webhook is not None:
                self._webhooks[parent_id] = webhook
            return webhook

    async def _stored_webhook(self, parent_id: int) -> discord.Webhook | None:
        if self.store is None:
            return None
        stored = await self.store.get_webhook(parent_id)
        if stored is None:
            return None
        return self._bind(stored.webhook_id, stored.token)

    async def _new_webhook(self, parent_id: int) -> discord.Webhook | None:
        channel = await self._channel(parent_id)
        if not isinstance(channel, discord.TextChannel | discord.ForumChannel):
            raise PermanentDiscordError(
                f"comments cannot be relayed under channel {parent_id} ({_describe(channel)})",
                channel_id=parent_id,
            )
        me = channel.guild.me
        if me is not None and not channel.permissions_for(me).manage_webhooks:
            return None
        try:
            webhook = next(
                (
                    w
                    for w in await channel.webhooks()
                    if w.token
                    and w.name == self.webhook_name
                    and w.user
                    and w.user.id == self._me()
                    and w.id not in self._retired_webhooks
                ),
                None,
            ) or await channel.create_webhook(
                name=self.webhook_name, reason="Gatejumper relays blog comments through it"
            )
        except discord.HTTPException as exc:
            if exc.code in (MISSING_PERMISSIONS, TOO_MANY_WEBHOOKS):
                return None
            raise
        assert webhook.token is not None  # we made it, or picked one with a token
        if self.store is not None:
            await self.store.save_webhook(StoredWebhook(parent_id, webhook.id, webhook.token))
        log.info("relaying comments in #%s through the webhook %d", channel, webhook.id)
        return self._bind(webhook.id, webhook.token)

    def _bind(self, webhook_id: int, token: str) -> discord.Webhook:
        """The webhook on our own session (see the module docstring), with the bot's state."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(middlewares=(_no_blind_retries,))
        return discord.Webhook.partial(webhook_id, token, session=self._session, client=self.bot)

    async def _forget_webhook(self, parent_id: int, webhook: discord.Webhook) -> None:
        """The webhook was deleted in Discord: forget it so that the next send makes a new one."""
        log.warning(
            "the relay webhook %d of channel %d was deleted; making a new one",
            webhook.id,
            parent_id,
        )
        self._retired_webhooks.add(webhook.id)
        self._webhooks.pop(parent_id, None)
        if self.store is not None:
            await self.store.delete_webhook(parent_id)

    async def _webhook_for_old_message(self, parent_id: int) -> discord.Webhook:
        webhook = await self._webhook(parent_id)
        if webhook is None:
            raise PermanentDiscordError(
                f"cannot change a relayed comment in channel {parent_id}: its webhook is unknown "
                "and the bot lacks Manage Webhooks there",
                channel_id=parent_id,
            )
        return webhook

    async def _our_webhook_ids(self, thread_id: int) -> set[int]:
        """Ids of webhooks whose messages are ours: known ones plus the thread's parent's."""
        ours = {w.id for w in self._webhooks.values()} | self._retired_webhooks
        thread = await self._channel(thread_id)
        parent_id = getattr(thread, "parent_id", None)
        if parent_id is not None and parent_id not in self._webhooks:
            webhook = await self._webhook(parent_id)
            if webhook is not None:
                ours.add(webhook.id)
        return ours

    async def _edit_webhook_message(self, sent: Sent, parent_id: int, draft: MessageDraft) -> None:
        webhook = await self._webhook_for_old_message(parent_id)
        thread = _thread(parent_id, sent.channel_id)
        old = await webhook.fetch_message(sent.message_id, thread=thread)
        first_line = old.content.split("\n", 1)[0]
        content = draft.content
        if first_line.startswith(REPLY_PREFIX):
            content = _fit(first_line, content)
        await self._reopening(
            sent.channel_id,
            lambda: webhook.edit_message(
                sent.message_id,
                content=content or None,
                embed=embed_from_draft(draft.embed) if draft.embed else MISSING,
                thread=thread,
                allowed_mentions=discord.AllowedMentions.none(),
            ),
        )

    # -- replies and the fallback ----------------------------------------------------------

    async def _with_reply_line(
        self, parent_id: int, content: str, reply_to: ReplyTarget | None
    ) -> str:
        if reply_to is None:
            return content
        guild_id = self._guild_of(parent_id)
        if guild_id is None:
            guild_id = (await self._channel(parent_id)).guild.id
        url = JUMP_URL.format(
            guild=guild_id, channel=reply_to.channel_id, message=reply_to.message_id
        )
        line = (
            f"{REPLY_PREFIX}**{escape_markdown(reply_to.author)}** · {url}"
            if reply_to.author
            else f"{REPLY_PREFIX}{url}"
        )
        if len(line) + 1 + len(content) > CONTENT_LIMIT and reply_to.author:
            line = f"{REPLY_PREFIX}{url}"
        return _fit(line, content)

    async def _send_fallback(
        self, parent_id: int, thread_id: int, draft: MessageDraft, reply_to: ReplyTarget | None
    ) -> Sent:
        """No webhook: a bot message with an author line, replying for real to the parent."""
        self._warn_fallback(parent_id)
        content = _fit(_author_line(draft.username or "Someone"), draft.content)
        options: dict[str, Any] = {
            "nonce": _fallback_nonce(draft),
            "allowed_mentions": discord.AllowedMentions.none(),
            "embed": embed_from_draft(draft.embed) if draft.embed else MISSING,
        }
        if reply_to is not None:
            options["reference"] = _reference(reply_to)
        target = self._messageable(thread_id)
        message = await self._reopening(thread_id, lambda: target.send(content, **options))
        return Sent(channel_id=thread_id, message_id=message.id, via_webhook=False)

    def _warn_fallback(self, parent_id: int) -> None:
        if parent_id in self._fallback_warned:
            return
        self._fallback_warned.add(parent_id)
        channel = self.bot.get_channel(parent_id)
        where = f"#{channel} ({parent_id})" if channel else f"channel {parent_id}"
        log.warning(
            "%s: the bot lacks Manage Webhooks (or the channel has 15 webhooks), so comments are "
            "posted as bot messages with the commenter's name in bold; give the bot's role "
            "Manage Webhooks in that channel to show commenters' names and avatars",
            where,
        )


# -- pure helpers ---------------------------------------------------------------------------


def _classify(exc: discord.HTTPException, channel_id: int, action: str) -> DiscordError:
    status, code = exc.status, exc.code
    what = f"cannot {action} in channel {channel_id}: {status} {exc.text or exc}".strip()
    if code == UNKNOWN_MESSAGE:
        return MessageGone(what, status=status, code=code)
    if status == 429 or status >= 500:
        return TransientDiscordError(what, status=status, code=code)
    if isinstance(exc, discord.Forbidden):
        hint = (
            "give the bot View Channel, Send Messages, Send Messages in Threads, Create Public "
            "Threads, Embed Links and Read Message History there"
        )
        return PermanentDiscordError(
            f"{what} ({hint})", channel_id=channel_id, status=status, code=code
        )
    if isinstance(exc, discord.NotFound):
        return PermanentDiscordError(
            f"{what} (check the channel id in the config)",
            channel_id=channel_id,
            status=status,
            code=code,
        )
    if code == THREAD_ARCHIVED:
        return PermanentDiscordError(
            f"{what} (the thread is locked)", channel_id=channel_id, status=status, code=code
        )
    return DiscordError(what, status=status, code=code)


def _describe(channel: object) -> str:
    kind = getattr(channel, "type", None)
    return f"a {kind} channel" if kind is not None else type(channel).__name__


def _thread(parent_id: int, channel_id: int) -> discord.abc.Snowflake:
    return discord.Object(channel_id) if channel_id != parent_id else MISSING


def _mentions(draft: MessageDraft) -> discord.AllowedMentions:
    """Nothing pings except the announcement's own role, when the config names one."""
    roles: list[discord.abc.Snowflake] | bool = (
        [discord.Object(draft.mention_role)] if draft.mention_role else False
    )
    return discord.AllowedMentions(everyone=False, users=False, roles=roles, replied_user=False)


def _reference(target: ReplyTarget) -> discord.MessageReference:
    return discord.MessageReference(
        message_id=target.message_id, channel_id=target.channel_id, fail_if_not_exists=False
    )


def _text_of(message: discord.Message) -> str:
    """Everything a marker could be in: the content and the embeds' texts and links."""
    parts: list[str | None] = [message.content]
    for embed in message.embeds:
        parts += [embed.title, embed.url, embed.description, embed.footer.text, embed.author.url]
        parts += [f"{field.name}\n{field.value}" for field in embed.fields]
    return "\n".join(p for p in parts if p)


def _author_line(username: str) -> str:
    return f"**{escape_markdown(username)}**{FALLBACK_SUFFIX}"


def _fallback_nonce(draft: MessageDraft) -> str:
    """Deterministic per comment part (≤ 25 characters), so a resend is deduplicated."""
    digest = hashlib.sha256(f"{draft.kind}:{draft.key}:{draft.part}".encode()).hexdigest()
    return "gjc" + digest[:22]


def _fit(first_line: str, content: str) -> str:
    """``first_line`` above ``content`` within 2,000 characters.

    The content's last line (the comment's link, which is also what
    :meth:`DiscordPyPort.find_sent` looks for) is always kept; if the whole
    does not fit, the text before it is shortened and ends with "…".
    """
    joined = f"{first_line}\n{content}" if content else first_line
    if len(joined) <= CONTENT_LIMIT:
        return joined
    body, newline, last = content.rpartition("\n")
    if not newline:
        body, last = content, ""
    keep = CONTENT_LIMIT - len(first_line) - 1 - len(ELLIPSIS) - (len(last) + 1 if last else 0)
    shortened = body[: max(keep, 0)].rstrip() + ELLIPSIS
    return "\n".join(p for p in (first_line, shortened, last) if p)[:CONTENT_LIMIT]
