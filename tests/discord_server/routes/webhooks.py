"""Webhooks: create/list per channel, execute (wait, thread_id, thread_name), edit/delete messages.

Interaction follow-ups use the same URLs with the application id and the interaction token, so
those requests are handed to `interactions`.
"""

from __future__ import annotations

from typing import Any

from .. import actions, payloads
from ..errors import (
    DiscordAPIError,
    FormErrors,
    archived_thread,
    dm_channel,
    unknown,
    wrong_channel_type,
)
from ..model import Channel, ChannelType, Message, User, Webhook
from ..permissions import Permission
from ..validation import check_message, check_thread_name, check_url, check_webhook_name
from . import interactions
from .base import NO_CONTENT, Call, Reply, RouteTable

routes = RouteTable()

MAX_WEBHOOKS_PER_CHANNEL = 15


def webhook_user(webhook: Webhook) -> User:
    """The pseudo-user webhook messages are authored by (never stored as a real user)."""
    return User(id=webhook.id, username=webhook.name, bot=True)


def by_token(call: Call) -> Webhook:
    webhook = call.state.webhook(call.id("webhook_id"))
    if webhook.token != call.params["webhook_token"]:
        raise DiscordAPIError(401, 50027, "Invalid Webhook Token")
    return webhook


def is_interaction_hook(call: Call) -> bool:
    return call.id("webhook_id") == call.server.application_id


@routes.route("POST", "/channels/{channel_id}/webhooks")
async def create_webhook(call: Call) -> Reply:
    channel = call.state.channel(call.id("channel_id"))
    if channel.guild_id is None:
        raise dm_channel()
    if channel.is_thread or channel.type == ChannelType.GUILD_CATEGORY:
        raise wrong_channel_type()
    call.require(channel, Permission.MANAGE_WEBHOOKS)
    body = call.json_object()
    errors = FormErrors()
    check_webhook_name(errors, body.get("name"), ("name",))
    errors.raise_if_any()
    if len(call.state.webhooks_of(channel.id)) >= MAX_WEBHOOKS_PER_CHANNEL:
        raise DiscordAPIError(400, 30007, "Maximum number of webhooks reached (15)")
    avatar = "a" * 32 if body.get("avatar") else None
    webhook = call.state.add_webhook(channel, body["name"], call.bot, avatar=avatar)
    actions.webhooks_changed(call.server, channel.id, webhook.guild_id)
    return Reply(payloads.webhook(call.state, webhook))


@routes.route("GET", "/channels/{channel_id}/webhooks")
async def channel_webhooks(call: Call) -> Reply:
    channel = call.state.channel(call.id("channel_id"))
    call.require(channel, Permission.MANAGE_WEBHOOKS)
    return Reply([payloads.webhook(call.state, w) for w in call.state.webhooks_of(channel.id)])


@routes.route("GET", "/guilds/{guild_id}/webhooks")
async def guild_webhooks(call: Call) -> Reply:
    guild = call.state.guild(call.id("guild_id"))
    if not call.state.guild_permissions(guild.id, call.bot.id) & Permission.MANAGE_WEBHOOKS:
        raise DiscordAPIError(403, 50013, "Missing Permissions")
    hooks = [w for w in call.state.webhooks.values() if w.guild_id == guild.id and not w.deleted]
    return Reply([payloads.webhook(call.state, w) for w in hooks])


@routes.route("GET", "/webhooks/{webhook_id}")
async def get_webhook(call: Call) -> Reply:
    webhook = call.state.webhook(call.id("webhook_id"))
    call.require(call.state.channel(webhook.channel_id), Permission.MANAGE_WEBHOOKS)
    return Reply(payloads.webhook(call.state, webhook))


@routes.route("GET", "/webhooks/{webhook_id}/{webhook_token}", auth="none")
async def get_webhook_with_token(call: Call) -> Reply:
    webhook = by_token(call)
    data = payloads.webhook(call.state, webhook)
    data.pop("user", None)
    return Reply(data)


@routes.route("PATCH", "/webhooks/{webhook_id}")
async def edit_webhook(call: Call) -> Reply:
    webhook = call.state.webhook(call.id("webhook_id"))
    call.require(call.state.channel(webhook.channel_id), Permission.MANAGE_WEBHOOKS)
    return Reply(_apply_webhook_edit(call, webhook, allow_move=True))


@routes.route("PATCH", "/webhooks/{webhook_id}/{webhook_token}", auth="none")
async def edit_webhook_with_token(call: Call) -> Reply:
    return Reply(_apply_webhook_edit(call, by_token(call), allow_move=False))


def _apply_webhook_edit(call: Call, webhook: Webhook, *, allow_move: bool) -> dict[str, Any]:
    body = call.json_object()
    errors = FormErrors()
    if "name" in body:
        check_webhook_name(errors, body["name"], ("name",))
    errors.raise_if_any()
    webhook.name = body.get("name", webhook.name)
    if "avatar" in body:
        webhook.avatar = "b" * 32 if body["avatar"] else None
    if allow_move and body.get("channel_id"):
        target = call.state.channel(int(body["channel_id"]))
        if target.guild_id != webhook.guild_id or target.is_thread:
            raise unknown("Channel")
        webhook.channel_id = target.id
    actions.webhooks_changed(call.server, webhook.channel_id, webhook.guild_id)
    return payloads.webhook(call.state, webhook)


@routes.route("DELETE", "/webhooks/{webhook_id}")
async def delete_webhook(call: Call) -> Reply:
    webhook = call.state.webhook(call.id("webhook_id"))
    call.require(call.state.channel(webhook.channel_id), Permission.MANAGE_WEBHOOKS)
    webhook.deleted = True
    actions.webhooks_changed(call.server, webhook.channel_id, webhook.guild_id)
    return NO_CONTENT


@routes.route("DELETE", "/webhooks/{webhook_id}/{webhook_token}", auth="none")
async def delete_webhook_with_token(call: Call) -> Reply:
    webhook = by_token(call)
    webhook.deleted = True
    actions.webhooks_changed(call.server, webhook.channel_id, webhook.guild_id)
    return NO_CONTENT


# ---- executing ---------------------------------------------------------------


def check_execute_body(body: dict[str, Any], has_files: bool) -> None:
    errors = FormErrors()
    if "username" in body and body["username"] is not None:
        check_webhook_name(errors, body["username"], ("username",))
    if body.get("avatar_url"):
        check_url(errors, ("avatar_url",), body["avatar_url"])
    if "thread_name" in body:
        check_thread_name(errors, body["thread_name"], ("thread_name",))
    check_message(body, has_files=has_files, errors=errors)


def target_channel(call: Call, webhook: Webhook, thread_id: int | None) -> Channel:
    """`thread_id` must name a thread under the webhook's channel."""
    channel = call.state.channel(webhook.channel_id)
    if thread_id is None:
        return channel
    thread = call.state.channels.get(thread_id)
    if thread is None or not thread.is_thread or thread.parent_id != channel.id:
        raise unknown("Channel")
    return thread


@routes.route("POST", "/webhooks/{webhook_id}/{webhook_token}", auth="none")
async def execute_webhook(call: Call) -> Reply:
    if is_interaction_hook(call):
        return await interactions.followup(call)
    webhook = by_token(call)
    body = call.json_object()
    check_execute_body(body, bool(call.files))
    thread_id = call.query_snowflake("thread_id")
    channel = target_channel(call, webhook, thread_id)
    author = webhook_user(webhook)
    if channel.type == ChannelType.GUILD_FORUM:
        if not body.get("thread_name"):
            raise DiscordAPIError(
                400,
                220001,
                "Webhooks posted to forum channels must have a thread_name or thread_id",
            )
        message_id = call.state.ids.next()
        channel = actions.create_thread(
            call.server,
            channel,
            body["thread_name"],
            author,
            thread_id=message_id,
            applied_tags=[int(t) for t in body.get("applied_tags") or []],
        )
    elif body.get("thread_name"):
        raise DiscordAPIError(400, 220003, "Webhooks can only create threads in forum channels")
    else:
        message_id = None
    if channel.is_thread and channel.archived and channel.locked:
        raise archived_thread()
    message = actions.create_message(
        call.server,
        channel,
        author,
        content=body.get("content") or "",
        embeds=body.get("embeds") or [],
        components=body.get("components") or [],
        attachments=call.files,
        allowed_mentions=body.get("allowed_mentions"),
        tts=bool(body.get("tts")),
        flags=int(body.get("flags") or 0),
        webhook=webhook,
        username=body.get("username"),
        avatar_url=body.get("avatar_url"),
        message_id=message_id,
    )
    if not call.query_bool("wait"):
        return NO_CONTENT
    return Reply(payloads.message(call.state, message))


def webhook_message(call: Call, webhook: Webhook) -> Message:
    """A message this webhook sent, looked up in `thread_id` or else the webhook's own channel."""
    channel = target_channel(call, webhook, call.query_snowflake("thread_id"))
    message = call.state.message(channel.id, call.id("message_id"))
    if message.webhook_id != webhook.id:
        raise unknown("Message")
    return message


@routes.route("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", auth="none")
async def get_webhook_message(call: Call) -> Reply:
    if is_interaction_hook(call):
        return await interactions.get_response_message(call)
    message = webhook_message(call, by_token(call))
    return Reply(payloads.message(call.state, message))


@routes.route("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", auth="none")
async def edit_webhook_message(call: Call) -> Reply:
    if is_interaction_hook(call):
        return await interactions.edit_response_message(call)
    message = webhook_message(call, by_token(call))
    body = call.json_object()
    check_message(body, partial=True)
    channel = call.state.channel(message.channel_id)
    if channel.is_thread and channel.archived:
        raise archived_thread()
    actions.edit_message(call.server, message, body)
    return Reply(payloads.message(call.state, message))


@routes.route("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", auth="none")
async def delete_webhook_message(call: Call) -> Reply:
    if is_interaction_hook(call):
        return await interactions.delete_response_message(call)
    message = webhook_message(call, by_token(call))
    channel = call.state.channel(message.channel_id)
    if channel.is_thread and channel.archived:
        raise archived_thread()
    actions.delete_message(call.server, message)
    return NO_CONTENT
