"""Discord's documented payload limits, reported as a 50035 `errors` tree."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlparse

from .errors import DiscordAPIError, ErrorPath, FormErrors
from .mentions import validate_allowed_mentions

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_TEXT_MAX = 2048
AUTHOR_NAME_MAX = 256
NONCE_MAX = 25
THREAD_NAME_MAX = 100
WEBHOOK_NAME_MAX = 80
AUTO_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
FORBIDDEN_NAME_PARTS = ("discord", "clyde")


def check_string(
    errors: FormErrors,
    path: ErrorPath,
    value: Any,
    *,
    max_length: int,
    min_length: int = 0,
) -> str | None:
    """Type and length check with Discord's error codes; returns the string when it is one."""
    if not isinstance(value, str):
        errors.add(path, "BASE_TYPE_STRING", "Must be a string.")
        return None
    if min_length and not (min_length <= len(value) <= max_length):
        errors.add(
            path,
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between {min_length} and {max_length} in length.",
        )
    elif len(value) > max_length:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {max_length} or fewer in length.")
    return value


def check_url(errors: FormErrors, path: ErrorPath, value: Any) -> None:
    if not isinstance(value, str):
        errors.add(path, "BASE_TYPE_STRING", "Must be a string.")
        return
    scheme = urlparse(value).scheme
    if scheme not in ("http", "https", "attachment"):
        errors.add(
            path,
            "URL_TYPE_INVALID_SCHEME",
            f"Scheme \"{scheme}\" is not supported. Scheme must be one of ('http', 'https').",
        )


def check_embed(errors: FormErrors, index: int, embed: Any) -> int:
    """Validate one embed and return its character count toward the 6000 total."""
    base: tuple[str | int, ...] = ("embeds", index)
    if not isinstance(embed, dict):
        errors.add(base, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return 0
    total = 0
    for key, limit in (("title", EMBED_TITLE_MAX), ("description", EMBED_DESCRIPTION_MAX)):
        if embed.get(key) is not None:
            text = check_string(errors, (*base, key), embed[key], max_length=limit)
            total += len(text or "")
    if embed.get("url") is not None:
        check_url(errors, (*base, "url"), embed["url"])
    color = embed.get("color")
    if color is not None and (not isinstance(color, int) or not 0 <= color <= 0xFFFFFF):
        errors.add((*base, "color"), "NUMBER_TYPE_MAX", "int value should be <= 16777215 and >= 0.")
    if embed.get("timestamp") is not None:
        try:
            dt.datetime.fromisoformat(str(embed["timestamp"]))
        except ValueError:
            errors.add((*base, "timestamp"), "DATE_TYPE_PARSE", "Could not parse timestamp.")
    total += _check_embed_parts(errors, base, embed)
    return total


def _check_embed_parts(
    errors: FormErrors, base: tuple[str | int, ...], embed: dict[str, Any]
) -> int:
    total = 0
    fields = embed.get("fields") or []
    if not isinstance(fields, list):
        errors.add((*base, "fields"), "BASE_TYPE_ARRAY", "Must be an array.")
        fields = []
    if len(fields) > EMBED_FIELDS_MAX:
        errors.add(
            (*base, "fields"),
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {EMBED_FIELDS_MAX} or fewer in length.",
        )
    for i, item in enumerate(fields):
        item = item if isinstance(item, dict) else {}
        name = check_string(
            errors,
            (*base, "fields", i, "name"),
            item.get("name"),
            min_length=1,
            max_length=FIELD_NAME_MAX,
        )
        value = check_string(
            errors,
            (*base, "fields", i, "value"),
            item.get("value"),
            min_length=1,
            max_length=FIELD_VALUE_MAX,
        )
        total += len(name or "") + len(value or "")
    footer = embed.get("footer")
    if isinstance(footer, dict):
        text = check_string(
            errors,
            (*base, "footer", "text"),
            footer.get("text"),
            min_length=1,
            max_length=FOOTER_TEXT_MAX,
        )
        total += len(text or "")
    author = embed.get("author")
    if isinstance(author, dict):
        name = check_string(
            errors,
            (*base, "author", "name"),
            author.get("name"),
            min_length=1,
            max_length=AUTHOR_NAME_MAX,
        )
        total += len(name or "")
        if author.get("url") is not None:
            check_url(errors, (*base, "author", "url"), author["url"])
    return total


def check_message(
    body: dict[str, Any],
    *,
    has_files: bool = False,
    partial: bool = False,
    errors: FormErrors | None = None,
) -> FormErrors:
    """Validate a create/edit message body; `partial` is for edits, where nothing is required."""
    errors = errors if errors is not None else FormErrors()
    if body.get("content") is not None:
        check_string(errors, ("content",), body["content"], max_length=CONTENT_MAX)
    embeds = body.get("embeds")
    if embeds is not None:
        if not isinstance(embeds, list):
            errors.add(("embeds",), "BASE_TYPE_ARRAY", "Must be an array.")
        else:
            if len(embeds) > EMBEDS_MAX:
                errors.add(
                    ("embeds",), "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length."
                )
            total = sum(check_embed(errors, i, e) for i, e in enumerate(embeds))
            if total > EMBED_TOTAL_MAX:
                errors.add(
                    ("embeds",),
                    "MAX_EMBED_SIZE_EXCEEDED",
                    f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
                )
    nonce = body.get("nonce")
    if nonce is not None:
        if isinstance(nonce, str):
            check_string(errors, ("nonce",), nonce, max_length=NONCE_MAX)
        elif not isinstance(nonce, int):
            errors.add(("nonce",), "BASE_TYPE_STRING", "Must be a string or an integer.")
    validate_allowed_mentions(body.get("allowed_mentions"), errors)
    errors.raise_if_any()
    if not partial and not has_message_body(body, has_files=has_files):
        raise DiscordAPIError(400, 50006, "Cannot send an empty message")
    return errors


def has_message_body(body: dict[str, Any], *, has_files: bool = False) -> bool:
    return bool(
        body.get("content")
        or body.get("embeds")
        or body.get("sticker_ids")
        or body.get("components")
        or body.get("poll")
        or has_files
    )


def check_thread_name(errors: FormErrors, value: Any, path: ErrorPath = ("name",)) -> None:
    check_string(errors, path, value, min_length=1, max_length=THREAD_NAME_MAX)


def check_auto_archive(errors: FormErrors, value: Any) -> None:
    if value is not None and value not in AUTO_ARCHIVE_DURATIONS:
        errors.add(
            ("auto_archive_duration",),
            "BASE_TYPE_CHOICES",
            f"Value must be one of {AUTO_ARCHIVE_DURATIONS}.",
        )


def check_webhook_name(errors: FormErrors, value: Any, path: ErrorPath) -> None:
    """Webhook names and per-message usernames: 1–80 chars, never "discord" or "clyde"."""
    name = check_string(errors, path, value, min_length=1, max_length=WEBHOOK_NAME_MAX)
    if name is None:
        return
    for part in FORBIDDEN_NAME_PARTS:
        if part in name.lower():
            errors.add(path, "USERNAME_INVALID_CONTAINS", f'Username cannot contain "{part}"')
