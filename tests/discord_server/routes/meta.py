"""Login and discovery: gateway URLs, current user, application, guilds, application commands."""

from __future__ import annotations

import re
from typing import Any

from .. import actions, payloads
from ..errors import DiscordAPIError, FormErrors, unknown
from ..model import AppCommand
from ..validation import check_string
from .base import Call, Reply, RouteTable, parse_snowflake

routes = RouteTable()

COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


@routes.route("GET", "/gateway", auth="none")
async def gateway(call: Call) -> Reply:
    return Reply({"url": call.server.gateway_url})


@routes.route("GET", "/gateway/bot")
async def gateway_bot(call: Call) -> Reply:
    return Reply(
        {
            "url": call.server.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }
    )


@routes.route("GET", "/users/@me")
async def current_user(call: Call) -> Reply:
    return Reply(payloads.current_user(call.bot))


@routes.route("GET", "/users/@me/guilds")
async def current_user_guilds(call: Call) -> Reply:
    guilds = [g for g in call.state.guilds.values() if call.bot.id in g.members]
    return Reply(
        [
            {
                "id": str(g.id),
                "name": g.name,
                "icon": None,
                "banner": None,
                "owner": g.owner_id == call.bot.id,
                "permissions": str(int(call.state.guild_permissions(g.id, call.bot.id))),
                "features": [],
            }
            for g in guilds
        ]
    )


@routes.route("POST", "/users/@me/channels")
async def open_dm(call: Call) -> Reply:
    """Open (or find) the bot's DM with ``recipient_id``: ``User.create_dm`` in discord.py."""
    raw = call.json_object().get("recipient_id")
    recipient = call.state.users.get(parse_snowflake(raw, ("recipient_id",)))
    if recipient is None or recipient.id == call.bot.id:
        raise DiscordAPIError(400, 50033, "Invalid Recipient(s)")
    channel = actions.open_dm(call.server, call.bot, recipient)
    return Reply(payloads.dm_channel(call.state, channel, viewer=call.bot.id))


@routes.route("GET", "/users/{user_id}")
async def get_user(call: Call) -> Reply:
    return Reply(payloads.user(call.state.user(call.id("user_id"))))


@routes.route("GET", "/oauth2/applications/@me")
async def oauth_application(call: Call) -> Reply:
    return Reply(payloads.application(call.bot, call.world.alice))


@routes.route("GET", "/applications/@me")
async def application(call: Call) -> Reply:
    return Reply(payloads.application(call.bot, call.world.alice))


# ---- guilds -------------------------------------------------------------------


def member_guild(call: Call) -> Any:
    guild = call.state.guild(call.id("guild_id"))
    if call.bot.id not in guild.members:
        raise unknown("Guild")
    return guild


@routes.route("GET", "/guilds/{guild_id}")
async def get_guild(call: Call) -> Reply:
    guild = member_guild(call)
    data = payloads.guild(call.state, guild)
    if call.query_bool("with_counts"):
        data.update(
            {"approximate_member_count": len(guild.members), "approximate_presence_count": 0}
        )
    return Reply(data)


@routes.route("GET", "/guilds/{guild_id}/channels")
async def guild_channels(call: Call) -> Reply:
    guild = member_guild(call)
    return Reply([payloads.channel(c) for c in call.state.guild_channels(guild.id)])


@routes.route("GET", "/guilds/{guild_id}/roles")
async def guild_roles(call: Call) -> Reply:
    guild = member_guild(call)
    return Reply([payloads.role(r) for r in guild.roles.values()])


@routes.route("GET", "/guilds/{guild_id}/members/{user_id}")
async def guild_member(call: Call) -> Reply:
    guild = member_guild(call)
    return Reply(payloads.member(call.state.member(guild.id, call.id("user_id"))))


@routes.route("GET", "/guilds/{guild_id}/members")
async def guild_members(call: Call) -> Reply:
    guild = member_guild(call)
    limit = call.query_int("limit", 1, low=1, high=1000)
    after = call.query_snowflake("after") or 0
    members = sorted(
        (m for m in guild.members.values() if m.user.id > after), key=lambda m: m.user.id
    )
    return Reply([payloads.member(m) for m in members[:limit]])


@routes.route("GET", "/guilds/{guild_id}/threads/active")
async def active_threads(call: Call) -> Reply:
    guild = member_guild(call)
    threads = call.state.active_threads(guild.id)
    return Reply({"threads": [payloads.channel(t) for t in threads], "members": []})


# ---- application commands -------------------------------------------------------


def own_application(call: Call) -> int:
    app_id = call.id("application_id")
    if app_id != call.server.application_id:
        raise DiscordAPIError(403, 50001, "Missing Access")
    return app_id


def parse_command(call: Call, raw: Any, index: int | None, guild_id: int | None) -> AppCommand:
    errors = FormErrors()
    prefix: tuple[str | int, ...] = () if index is None else (index,)
    raw = raw if isinstance(raw, dict) else {}
    kind = int(raw.get("type") or 1)
    name = check_string(errors, (*prefix, "name"), raw.get("name"), min_length=1, max_length=32)
    if kind == 1 and name is not None and (not COMMAND_NAME.match(name) or name != name.lower()):
        errors.add((*prefix, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    if kind == 1:
        check_string(
            errors, (*prefix, "description"), raw.get("description"), min_length=1, max_length=100
        )
    errors.raise_if_any()
    existing = next(
        (
            c
            for c in call.state.commands.values()
            if c.name == raw["name"] and c.type == kind and c.guild_id == guild_id
        ),
        None,
    )
    return AppCommand(
        id=existing.id if existing else call.state.ids.next(),
        application_id=call.server.application_id,
        name=raw["name"],
        description=raw.get("description") or "",
        type=kind,
        guild_id=guild_id,
        options=list(raw.get("options") or []),
        raw=dict(raw),
        version=existing.version + 1 if existing else 1,
    )


def commands_in(call: Call, guild_id: int | None) -> list[AppCommand]:
    return [c for c in call.state.commands.values() if c.guild_id == guild_id]


def overwrite_commands(call: Call, guild_id: int | None) -> Reply:
    own_application(call)
    body = call.body if isinstance(call.body, list) else None
    if body is None:
        raise DiscordAPIError(
            400,
            50035,
            "Invalid Form Body",
            {"_errors": [{"code": "BASE_TYPE_ARRAY", "message": "Must be an array."}]},
        )
    parsed = [parse_command(call, raw, i, guild_id) for i, raw in enumerate(body)]
    for old in commands_in(call, guild_id):
        del call.state.commands[old.id]
    for command in parsed:
        call.state.commands[command.id] = command
    call.server.notify()
    return Reply([payloads.app_command(c) for c in parsed])


@routes.route("GET", "/applications/{application_id}/commands")
async def global_commands(call: Call) -> Reply:
    own_application(call)
    return Reply([payloads.app_command(c) for c in commands_in(call, None)])


@routes.route("PUT", "/applications/{application_id}/commands")
async def overwrite_global_commands(call: Call) -> Reply:
    return overwrite_commands(call, None)


@routes.route("POST", "/applications/{application_id}/commands")
async def upsert_global_command(call: Call) -> Reply:
    own_application(call)
    command = parse_command(call, call.body, None, None)
    call.state.commands[command.id] = command
    return Reply(payloads.app_command(command), status=201 if command.version == 1 else 200)


@routes.route("GET", "/applications/{application_id}/guilds/{guild_id}/commands")
async def guild_commands(call: Call) -> Reply:
    own_application(call)
    return Reply([payloads.app_command(c) for c in commands_in(call, member_guild(call).id)])


@routes.route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
async def overwrite_guild_commands(call: Call) -> Reply:
    return overwrite_commands(call, member_guild(call).id)
