"""Channels and threads: fetch, edit (archive/unarchive), start threads, forum posts, lists."""

from __future__ import annotations

from typing import Any

from .. import actions, payloads
from ..errors import DiscordAPIError, FormErrors, archived_thread, wrong_channel_type
from ..model import Channel, ChannelType, MessageType
from ..permissions import Permission
from ..validation import check_auto_archive, check_message, check_string, check_thread_name
from .base import NO_CONTENT, Call, Reply, RouteTable
from .messages import dropped_embeds

routes = RouteTable()

THREAD_PARENT_TYPES = (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT)


@routes.route("GET", "/channels/{channel_id}")
async def get_channel(call: Call) -> Reply:
    channel = call.state.channel(call.id("channel_id"))
    call.require(channel, Permission(0))
    if channel.is_dm:
        return Reply(payloads.dm_channel(call.state, channel, viewer=call.bot.id))
    return Reply(payloads.channel(channel))


@routes.route("PATCH", "/channels/{channel_id}")
async def edit_channel(call: Call) -> Reply:
    channel = call.state.channel(call.id("channel_id"))
    body = call.json_object()
    if channel.is_thread:
        return Reply(payloads.channel(_edit_thread(call, channel, body)))
    call.require(channel, Permission.MANAGE_CHANNELS)
    errors = FormErrors()
    if "name" in body:
        check_string(errors, ("name",), body["name"], min_length=1, max_length=100)
    if body.get("topic") is not None:
        check_string(errors, ("topic",), body["topic"], max_length=1024)
    errors.raise_if_any()
    channel.name = body.get("name", channel.name)
    channel.topic = body.get("topic", channel.topic)
    actions.update_channel(call.server, channel)
    return Reply(payloads.channel(channel))


def _edit_thread(call: Call, thread: Channel, body: dict[str, Any]) -> Channel:
    """Owners may archive their own threads; locking or others' threads need MANAGE_THREADS."""
    perms = call.require(thread, Permission(0))
    manager = bool(perms & Permission.MANAGE_THREADS)
    if not manager and (thread.owner_id != call.bot.id or "locked" in body):
        raise DiscordAPIError(403, 50013, "Missing Permissions")
    if thread.archived and body.get("archived", True) is not False:
        raise archived_thread()
    if thread.locked and not manager:
        raise archived_thread()
    errors = FormErrors()
    if "name" in body:
        check_thread_name(errors, body["name"])
    check_auto_archive(errors, body.get("auto_archive_duration"))
    errors.raise_if_any()
    fields = {
        "name": "name",
        "archived": "archived",
        "locked": "locked",
        "auto_archive_duration": "auto_archive_duration",
        "applied_tags": "applied_tags",
    }
    changes = {attr: body[key] for key, attr in fields.items() if key in body}
    if "applied_tags" in changes:
        changes["applied_tags"] = [int(t) for t in changes["applied_tags"]]
    return actions.update_thread(call.server, thread, **changes)


@routes.route("POST", "/channels/{channel_id}/messages/{message_id}/threads")
async def start_thread_from_message(call: Call) -> Reply:
    channel = call.state.channel(call.id("channel_id"))
    if channel.type not in THREAD_PARENT_TYPES:
        raise wrong_channel_type()
    call.require(channel, Permission.CREATE_PUBLIC_THREADS)
    message = call.state.message(channel.id, call.id("message_id"))
    body = call.json_object()
    errors = FormErrors()
    check_thread_name(errors, body.get("name"))
    check_auto_archive(errors, body.get("auto_archive_duration"))
    errors.raise_if_any()
    if message.thread_id is not None:
        raise DiscordAPIError(400, 160004, "A thread has already been created for this message")
    thread = actions.create_thread(
        call.server,
        channel,
        body["name"],
        call.bot,
        starter=message,
        type=ChannelType.ANNOUNCEMENT_THREAD
        if channel.type == ChannelType.GUILD_ANNOUNCEMENT
        else ChannelType.PUBLIC_THREAD,
        auto_archive_duration=body.get("auto_archive_duration") or 1440,
    )
    return Reply(payloads.channel(thread), status=201)


@routes.route("POST", "/channels/{channel_id}/threads")
async def start_thread(call: Call) -> Reply:
    channel = call.state.channel(call.id("channel_id"))
    body = call.json_object()
    if channel.type == ChannelType.GUILD_FORUM:
        return _forum_post(call, channel, body)
    if channel.type not in THREAD_PARENT_TYPES:
        raise wrong_channel_type()
    errors = FormErrors()
    check_thread_name(errors, body.get("name"))
    check_auto_archive(errors, body.get("auto_archive_duration"))
    raw_type = body.get("type")
    thread_types = {int(t): t for t in ChannelType if t.is_thread}
    kind = thread_types.get(raw_type) if isinstance(raw_type, int) else None
    if kind is None:
        errors.add(("type",), "BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}.")
    errors.raise_if_any()
    assert kind is not None
    private = kind == ChannelType.PRIVATE_THREAD
    call.require(
        channel, Permission.CREATE_PRIVATE_THREADS if private else Permission.CREATE_PUBLIC_THREADS
    )
    thread = actions.create_thread(
        call.server,
        channel,
        body["name"],
        call.bot,
        type=kind,
        auto_archive_duration=body.get("auto_archive_duration") or 1440,
    )
    if not private:
        notice = actions.create_message(
            call.server,
            channel,
            call.bot,
            content=thread.name,
            type=MessageType.THREAD_CREATED,
        )
        notice.reference_id, notice.reference_channel_id = thread.id, thread.id
    return Reply(payloads.channel(thread), status=201)


def _forum_post(call: Call, forum: Channel, body: dict[str, Any]) -> Reply:
    """A forum post is a thread plus its starter message, which shares the thread's id."""
    perms = call.require(forum, Permission.SEND_MESSAGES)
    errors = FormErrors()
    check_thread_name(errors, body.get("name"))
    check_auto_archive(errors, body.get("auto_archive_duration"))
    starter = body.get("message")
    if not isinstance(starter, dict):
        errors.add(("message",), "BASE_TYPE_REQUIRED", "This field is required")
        errors.raise_if_any()
        raise AssertionError("unreachable")
    tags = [int(t) for t in body.get("applied_tags") or []]
    known_tags = {int(t["id"]) for t in forum.available_tags}
    for index, tag in enumerate(tags):
        if tag not in known_tags:
            errors.add(("applied_tags", index), "FORUM_TAG_UNKNOWN", "Unknown tag")
    errors.raise_if_any()
    try:
        check_message(starter, has_files=bool(call.files))
    except DiscordAPIError as exc:
        if exc.code == 50035:
            raise DiscordAPIError(
                400, 50035, "Invalid Form Body", {"message": exc.errors}
            ) from None
        raise
    thread_id = call.state.ids.next()
    thread = actions.create_thread(
        call.server,
        forum,
        body["name"],
        call.bot,
        thread_id=thread_id,
        auto_archive_duration=body.get("auto_archive_duration") or 4320,
        applied_tags=tags,
    )
    message = actions.create_message(
        call.server,
        thread,
        call.bot,
        content=starter.get("content") or "",
        embeds=dropped_embeds(starter, perms),
        components=starter.get("components") or [],
        attachments=call.files,
        allowed_mentions=starter.get("allowed_mentions"),
        message_id=thread_id,
    )
    return Reply(
        {**payloads.channel(thread), "message": payloads.message(call.state, message)}, 201
    )


@routes.route("GET", "/channels/{channel_id}/threads/archived/public")
async def archived_public_threads(call: Call) -> Reply:
    channel = call.state.channel(call.id("channel_id"))
    call.require(channel, Permission.READ_MESSAGE_HISTORY)
    limit = call.query_int("limit", 50, low=2, high=100)
    threads = [t for t in call.state.threads_of(channel.id) if t.archived]
    threads.sort(key=lambda t: t.archive_timestamp, reverse=True)
    return Reply(
        {
            "threads": [payloads.channel(t) for t in threads[:limit]],
            "members": [],
            "has_more": len(threads) > limit,
        }
    )


@routes.route("PUT", "/channels/{channel_id}/thread-members/@me")
async def join_thread(call: Call) -> Reply:
    thread = call.state.channel(call.id("channel_id"))
    if not thread.is_thread:
        raise wrong_channel_type()
    call.require(thread, Permission(0))
    thread.member_ids.add(call.bot.id)
    return NO_CONTENT


@routes.route("DELETE", "/channels/{channel_id}/thread-members/@me")
async def leave_thread(call: Call) -> Reply:
    thread = call.state.channel(call.id("channel_id"))
    if not thread.is_thread:
        raise wrong_channel_type()
    thread.member_ids.discard(call.bot.id)
    return NO_CONTENT
