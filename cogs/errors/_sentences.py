"""Command errors → one sentence for the user; ``None`` means "unexpected, log it".

The sentences are written here, never taken from an unexpected exception's
text, so that nothing internal (paths, URLs, tokens, SQL) reaches Discord.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final, cast

import discord
from discord import app_commands
from discord.ext import commands

from cogs.errors.user_facing import Refusal

UNEXPECTED: Final = "Something went wrong; the operators were told."

#: Discord's names for the permissions a command may need (the rest are title-cased).
PERMISSION_NAMES: Final = {
    "manage_guild": "Manage Server",
    "manage_webhooks": "Manage Webhooks",
    "manage_threads": "Manage Threads",
    "manage_messages": "Manage Messages",
    "manage_channels": "Manage Channels",
    "manage_roles": "Manage Roles",
    "send_messages": "Send Messages",
    "send_messages_in_threads": "Send Messages in Threads",
    "create_public_threads": "Create Public Threads",
    "embed_links": "Embed Links",
    "read_message_history": "Read Message History",
    "view_channel": "View Channel",
    "administrator": "Administrator",
}


def permission_list(names: Iterable[str]) -> str:
    """``["manage_guild", "embed_links"]`` → ``"the Manage Server and Embed Links permissions"``."""
    shown = [PERMISSION_NAMES.get(n, n.replace("_", " ").title()) for n in names]
    if not shown:
        return "a permission"
    if len(shown) == 1:
        return f"the {shown[0]} permission"
    return f"the {', '.join(shown[:-1])} and {shown[-1]} permissions"


def _cooldown(retry_after: float) -> str:
    seconds = max(1, math.ceil(retry_after))
    unit = "second" if seconds == 1 else "seconds"
    return f"This command is cooling down; try again in {seconds} {unit}."


def _roles(missing: Iterable[object]) -> str:
    names = ", ".join(str(role) for role in missing)
    return f"You need one of these roles to use this command: {names}."


def unwrap(error: BaseException) -> BaseException:
    """The error a command actually raised, out of discord.py's invoke/transform wrappers."""
    while True:
        if is_refusal(error):
            return error
        if isinstance(error, app_commands.CommandInvokeError | commands.CommandInvokeError):
            error = error.original
        elif isinstance(error, commands.HybridCommandError):
            error = error.original
        elif isinstance(error, app_commands.TransformerError) and is_refusal(error.__cause__):
            assert error.__cause__ is not None
            error = error.__cause__
        else:
            return error


def is_refusal(error: BaseException | None) -> bool:
    """An error whose ``sentence`` is for the user (see :mod:`cogs.errors.user_facing`)."""
    return isinstance(error, Refusal) and isinstance(error.sentence, str)


def app_command_sentence(error: BaseException) -> str | None:
    """What to tell the user about a slash command error; ``None`` when it is a bug."""
    error = unwrap(error)
    if is_refusal(error):
        return cast(Refusal, error).sentence
    match error:
        case app_commands.MissingPermissions():
            return f"You need {permission_list(error.missing_permissions)} to use this command."
        case app_commands.BotMissingPermissions():
            needed = permission_list(error.missing_permissions)
            return f"I need {needed} in this channel to do that; ask a server admin to grant it."
        case app_commands.NoPrivateMessage():
            return "This command only works in a server, not in direct messages."
        case app_commands.MissingRole() | app_commands.MissingAnyRole():
            missing = (
                [error.missing_role]
                if isinstance(error, app_commands.MissingRole)
                else error.missing_roles
            )
            return _roles(missing)
        case app_commands.CommandOnCooldown():
            return _cooldown(error.retry_after)
        case app_commands.CheckFailure():
            return "You are not allowed to use this command here."
        case app_commands.TransformerError():
            return f"“{_clip(str(error.value))}” is not a valid value for that option."
        case app_commands.CommandNotFound() | app_commands.CommandSignatureMismatch():
            return (
                "Discord showed you an outdated version of this command; "
                "try again in a minute, after Discord refreshes its command list."
            )
        case discord.Forbidden():
            return "Discord refused: I am missing a permission in this channel to do that."
    return None


def prefix_command_sentence(error: BaseException) -> str | None:
    """What to tell the user about a prefix command error; ``None`` when it is a bug."""
    error = unwrap(error)
    if is_refusal(error) or isinstance(error, app_commands.AppCommandError):
        return app_command_sentence(error)
    match error:
        case commands.MissingPermissions():
            return f"You need {permission_list(error.missing_permissions)} to use this command."
        case commands.BotMissingPermissions():
            needed = permission_list(error.missing_permissions)
            return f"I need {needed} in this channel to do that; ask a server admin to grant it."
        case commands.NoPrivateMessage():
            return "This command only works in a server, not in direct messages."
        case commands.MissingRole() | commands.MissingAnyRole():
            missing = (
                [error.missing_role]
                if isinstance(error, commands.MissingRole)
                else error.missing_roles
            )
            return _roles(missing)
        case commands.CheckFailure():
            return "You are not allowed to use this command here."
        case commands.CommandOnCooldown():
            return _cooldown(error.retry_after)
        case commands.MaxConcurrencyReached():
            return "This command is already running; try again when it has finished."
        case commands.DisabledCommand():
            return "This command is turned off."
        case commands.MissingRequiredArgument():
            return f"The command needs a value for `{error.param.name}`."
        case commands.TooManyArguments():
            return "The command got more values than it takes."
        case commands.BadArgument() | commands.BadUnionArgument() | commands.BadLiteralArgument():
            return _clip(str(error), 300) or "One of the values given is not valid."
        case commands.UserInputError():
            return "The command could not read its arguments; check the quotes and try again."
        case discord.Forbidden():
            return "Discord refused: I am missing a permission in this channel to do that."
    return None


def _clip(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
