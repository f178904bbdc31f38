"""Discord-shaped API errors: `{"message", "code"}` plus the nested `errors` object of 50035."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

ErrorPath = Sequence[str | int]


class DiscordAPIError(Exception):
    """Raised by route handlers; the server turns it into the JSON error body Discord sends."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        """The JSON body Discord would send for this error."""
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        return data


def unknown(kind: str) -> DiscordAPIError:
    """404 for a missing object, with Discord's code for that kind of object."""
    codes = {
        "Guild": 10004,
        "Channel": 10003,
        "Message": 10008,
        "User": 10013,
        "Emoji": 10014,
        "Webhook": 10015,
        "Member": 10007,
        "Role": 10011,
        "interaction": 10062,
        "application command": 10063,
    }
    return DiscordAPIError(404, codes[kind], f"Unknown {kind}")


def missing_permissions() -> DiscordAPIError:
    return DiscordAPIError(403, 50013, "Missing Permissions")


def missing_access() -> DiscordAPIError:
    return DiscordAPIError(403, 50001, "Missing Access")


def archived_thread() -> DiscordAPIError:
    return DiscordAPIError(400, 50083, "Thread is archived")


def dm_channel() -> DiscordAPIError:
    """Guild-only actions (webhooks, threads, bulk deletes...) attempted in a DM."""
    return DiscordAPIError(400, 50003, "Cannot execute action on a DM channel")


def wrong_channel_type() -> DiscordAPIError:
    return DiscordAPIError(400, 50024, "Cannot execute action on this channel type")


@dataclass
class FormErrors:
    """Collects field errors into Discord's nested `errors` object for a 50035 response."""

    tree: dict[str, Any] = field(default_factory=dict)

    def add(self, path: ErrorPath, code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def __bool__(self) -> bool:
        return bool(self.tree)

    def raise_if_any(self) -> None:
        if self.tree:
            raise DiscordAPIError(400, 50035, "Invalid Form Body", self.tree)

    def flat(self) -> list[str]:
        """Dotted paths of every error, handy in assertion messages."""
        out: list[str] = []

        def walk(node: dict[str, Any], prefix: str) -> None:
            for key, value in node.items():
                if key == "_errors":
                    out.extend(f"{prefix}: {e['code']}" for e in value)
                else:
                    walk(value, f"{prefix}.{key}" if prefix else key)

        walk(self.tree, "")
        return out


def invalid_form(path: ErrorPath, code: str, message: str) -> DiscordAPIError:
    """A 50035 with a single field error."""
    errors = FormErrors()
    errors.add(path, code, message)
    return DiscordAPIError(400, 50035, "Invalid Form Body", errors.tree)
