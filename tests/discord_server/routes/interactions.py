"""Interaction callbacks and follow-ups (the webhook URLs keyed by application id + token)."""

from __future__ import annotations

from typing import Any

from .. import actions, payloads
from ..errors import DiscordAPIError, unknown
from ..model import Interaction, InteractionResponse, Message, MessageFlag, MessageType
from ..validation import check_message
from .base import NO_CONTENT, Call, Reply, RouteTable

routes = RouteTable()

PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE = 8
MODAL = 9
CALLBACK_TYPES = (
    PONG,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    UPDATE_MESSAGE,
    AUTOCOMPLETE,
    MODAL,
)


def by_token(call: Call, id_param: str, token_param: str) -> Interaction:
    interaction = call.state.interactions.get(call.id(id_param))
    if interaction is None or interaction.token != call.params[token_param]:
        raise unknown("interaction")
    return interaction


def by_hook_token(call: Call) -> Interaction:
    for interaction in call.state.interactions.values():
        if interaction.token == call.params["webhook_token"]:
            return interaction
    raise unknown("Webhook")


@routes.route("POST", "/interactions/{webhook_id}/{webhook_token}/callback", auth="none")
async def callback(call: Call) -> Reply:
    interaction = by_token(call, "webhook_id", "webhook_token")
    if interaction.acknowledged:
        raise DiscordAPIError(400, 40060, "Interaction has already been acknowledged.")
    body = call.json_object()
    kind = body.get("type")
    if kind not in CALLBACK_TYPES:
        raise DiscordAPIError(
            400,
            50035,
            "Invalid Form Body",
            {
                "type": {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_CHOICES",
                            "message": f"Value must be one of {CALLBACK_TYPES}.",
                        }
                    ]
                }
            },
        )
    data = body.get("data") or {}
    message: Message | None = None
    if kind == CHANNEL_MESSAGE:
        check_message(data, has_files=bool(call.files))
        message = _response_message(call, interaction, data, loading=False)
    elif kind == DEFERRED_CHANNEL_MESSAGE:
        message = _response_message(call, interaction, data, loading=True)
    interaction.responses.append(InteractionResponse(kind, data, message.id if message else None))
    if message is not None:
        interaction.original_message_id = message.id
    call.server.notify()
    if not call.query_bool("with_response"):
        return NO_CONTENT
    return Reply(_callback_body(call, interaction, kind, message))


def _response_message(
    call: Call, interaction: Interaction, data: dict[str, Any], *, loading: bool
) -> Message:
    """The reply message; ephemeral ones are stored but never shown in the channel."""
    flags = int(data.get("flags") or 0)
    if loading:
        flags |= MessageFlag.LOADING
    ephemeral = bool(flags & MessageFlag.EPHEMERAL)
    channel = call.state.channel(interaction.channel_id)
    message = actions.create_message(
        call.server,
        channel,
        call.bot,
        content="" if loading else data.get("content") or "",
        embeds=[] if loading else data.get("embeds") or [],
        components=[] if loading else data.get("components") or [],
        allowed_mentions=data.get("allowed_mentions"),
        flags=flags,
        type=MessageType.CHAT_INPUT_COMMAND,
        application_id=interaction.application_id,
        interaction_id=interaction.id,
        dispatch=not ephemeral,
    )
    if ephemeral:
        call.state.channel_log[channel.id].remove(message.id)
    return message


def _callback_body(
    call: Call, interaction: Interaction, kind: int, message: Message | None
) -> dict[str, Any]:
    flags = message.flags if message else 0
    body: dict[str, Any] = {
        "interaction": {
            "id": str(interaction.id),
            "type": 2,
            "response_message_loading": bool(flags & MessageFlag.LOADING),
            "response_message_ephemeral": bool(flags & MessageFlag.EPHEMERAL),
        }
    }
    if message is not None:
        body["interaction"]["response_message_id"] = str(message.id)
        body["resource"] = {"type": kind, "message": payloads.message(call.state, message)}
    return body


async def followup(call: Call) -> Reply:
    interaction = by_hook_token(call)
    if not interaction.acknowledged:
        raise unknown("Webhook")
    body = call.json_object()
    check_message(body, has_files=bool(call.files))
    flags = int(body.get("flags") or 0)
    ephemeral = bool(flags & MessageFlag.EPHEMERAL)
    channel = call.state.channel(interaction.channel_id)
    message = actions.create_message(
        call.server,
        channel,
        call.bot,
        content=body.get("content") or "",
        embeds=body.get("embeds") or [],
        components=body.get("components") or [],
        allowed_mentions=body.get("allowed_mentions"),
        flags=flags,
        application_id=interaction.application_id,
        interaction_id=interaction.id,
        dispatch=not ephemeral,
    )
    if ephemeral:
        call.state.channel_log[channel.id].remove(message.id)
    interaction.followup_ids.append(message.id)
    return Reply(payloads.message(call.state, message))


def _hook_message(call: Call) -> tuple[Interaction, Message]:
    interaction = by_hook_token(call)
    raw = call.params["message_id"]
    message_id = interaction.original_message_id if raw == "@original" else call.id("message_id")
    ours = {interaction.original_message_id, *interaction.followup_ids}
    message = call.state.messages.get(message_id) if message_id is not None else None
    if message is None or message.deleted or message.id not in ours:
        raise unknown("Message")
    return interaction, message


async def get_response_message(call: Call) -> Reply:
    _, message = _hook_message(call)
    return Reply(payloads.message(call.state, message))


async def edit_response_message(call: Call) -> Reply:
    _, message = _hook_message(call)
    body = call.json_object()
    check_message(body, partial=True)
    actions.edit_message(call.server, message, body)
    return Reply(payloads.message(call.state, message))


async def delete_response_message(call: Call) -> Reply:
    _, message = _hook_message(call)
    actions.delete_message(call.server, message)
    return NO_CONTENT
