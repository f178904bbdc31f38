"""WordPress comments through the REST API (``wp/v2/comments``) with an application password.

What WordPress 6.1 does with a comment created by an authenticated account (read in
``WP_REST_Comments_Controller`` and checked by tests/blogs/test_wordpress.py):

* without ``author_name``/``author_email`` the comment is the account's own
  (``author`` = its user id, its display name), approved at once when the account
  may moderate or wrote the post, else subject to the blog's moderation rules;
* with ``author_name`` the name is kept *whatever the account's capabilities*, but
  the comment is then no longer linked to the account (``author`` 0), so WordPress
  moderates it like an anonymous comment; when "name and email required" is on
  (the default), ``author_email`` must come too, else ``rest_comment_author_data_required``;
* ``status`` is refused (``rest_comment_invalid_status``, 401/403) unless the account
  has ``moderate_comments``;
* a wrong application password does not fail reads: WordPress serves them as to an
  anonymous visitor, and refuses a create with ``rest_comment_login_required`` (401).
  :meth:`WordPressComments.check_account` (``users/me``) is the way to test a login;
* reads ask for ``context=edit`` (``content.raw``, ``author_email``), which needs
  ``moderate_comments``; an account without it gets ``rest_forbidden_context``, and
  the client then reads in ``context=view`` (no ``content_raw``) from then on;
* listing held comments takes ``status=all`` (approved and held, not spam or trash),
  allowed to accounts with ``edit_posts``; WordPress then drops the comments the
  account may not read: a non-moderating account sees held comments of its own and
  on its own posts only.

Both REST root forms work (``/wp-json/`` and ``?rest_route=/``): URLs come from
:func:`bot.feeds.sources.wordpress.route_url`.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot.blogs.errors import BlogError
from bot.blogs.models import Author, BlogComment, CommentStatus, PostRef
from bot.feeds.sources.wordpress import route_url

COMMENTS = "wp/v2/comments"
PER_PAGE = 100
MAX_PAGES = 50
GUEST_EMAIL = "noreply@gatejumper.invalid"  # WordPress requires an email by default
_STATUSES: dict[str, CommentStatus] = {
    "approved": "approved",
    "approve": "approved",
    "1": "approved",
    "hold": "hold",
    "unapproved": "hold",
    "0": "hold",
    "spam": "spam",
    "trash": "trash",
}
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class WordPressAccount:
    """The account a client logs in as, and whether it may approve comments."""

    user_id: int
    name: str
    can_moderate: bool


class WordPressComments:
    """Comments on one WordPress, as one account (login + application password)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_root: str,
        *,
        login: str,
        app_password: str,
        timeout: float = 15,
    ) -> None:
        self._session = session
        self.api_root = api_root
        self.login = login
        token = base64.b64encode(f"{login}:{app_password}".encode()).decode("ascii")
        self.__authorization = f"Basic {token}"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._edit_context: bool | None = None  # may this account read context=edit?

    def __repr__(self) -> str:
        return f"WordPressComments(api_root={self.api_root!r}, login={self.login!r})"

    async def check_account(self) -> WordPressAccount:
        """Who the credentials log in as; a wrong login or password is a 401 BlogError here."""
        data = await self._call("GET", "wp/v2/users/me", params={"context": "edit"})
        if not isinstance(data, dict) or "id" not in data:
            raise self._error("users/me did not describe a user", None, "invalid")
        capabilities = data.get("capabilities") or {}
        account = WordPressAccount(
            user_id=int(data["id"]),
            name=str(data.get("name") or self.login),
            can_moderate=bool(capabilities.get("moderate_comments")),
        )
        self._edit_context = account.can_moderate
        return account

    # --- the protocol ----------------------------------------------------------

    async def create_comment(
        self,
        post: PostRef,
        content: str,
        *,
        parent: str | None,
        author: Author,
        status: str | None = None,
    ) -> BlogComment:
        """Create a comment; ``status`` ("approved", "hold") needs a moderating account.

        A 409 ``comment_duplicate`` is raised as such: the caller looks the comment up.
        """
        body: dict[str, Any] = {"post": _int_id(post.id, "post"), "content": content}
        if parent is not None:
            body["parent"] = _int_id(parent, "parent comment")
        if author.guest:
            body["author_name"] = author.name
            body["author_email"] = author.email or GUEST_EMAIL
        if status is not None:
            body["status"] = status
        return _comment(await self._call("POST", COMMENTS, json_body=body))

    async def update_comment(self, comment_id: str, content: str) -> BlogComment:
        route = f"{COMMENTS}/{_int_id(comment_id, 'comment')}"
        return _comment(await self._call("POST", route, json_body={"content": content}))

    async def delete_comment(self, comment_id: str) -> None:
        """Move the comment to the trash; one already trashed or deleted counts as done."""
        route = f"{COMMENTS}/{_int_id(comment_id, 'comment')}"
        try:
            await self._call("DELETE", route)
        except BlogError as error:
            if error.code not in ("rest_already_trashed", "rest_comment_invalid_id"):
                raise

    async def get_comment(self, comment_id: str) -> BlogComment:
        route = f"{COMMENTS}/{_int_id(comment_id, 'comment')}"
        return _comment(await self._read(route, {}))

    async def comments_since(
        self, post: PostRef, since: datetime, *, include_held: bool = False
    ) -> list[BlogComment]:
        """Approved comments on ``post`` created after ``since``, oldest first.

        ``include_held`` lists held comments too (``status=all``), those this account
        may read: all of them for a moderator, else its own and those on its own posts.
        """
        if since.tzinfo is None:
            raise ValueError("comments_since needs a timezone-aware datetime")
        after = since.astimezone(UTC)
        found: list[BlogComment] = []
        for page in range(1, MAX_PAGES + 1):
            params = {
                "post": str(_int_id(post.id, "post")),
                "after": after.strftime("%Y-%m-%dT%H:%M:%S"),
                "orderby": "date_gmt",
                "order": "asc",
                "per_page": str(PER_PAGE),
                "page": str(page),
            }
            if include_held:
                params["status"] = "all"
            batch = await self._read(COMMENTS, params)
            if not isinstance(batch, list):
                raise self._error("the comment listing is not a JSON list", None, None)
            found += [c for c in map(_comment, batch) if c.created > after]
            if len(batch) < PER_PAGE:
                break
        return found

    # --- HTTP ------------------------------------------------------------------

    async def _read(self, route: str, params: Mapping[str, str]) -> Any:
        """GET in ``context=edit`` when this account may (for ``content.raw``), else view."""
        if self._edit_context is not False:
            try:
                data = await self._call("GET", route, params={**params, "context": "edit"})
            except BlogError as error:
                if error.code != "rest_forbidden_context":
                    raise
                self._edit_context = False
            else:
                self._edit_context = True
                return data
        return await self._call("GET", route, params=params)

    async def _call(
        self,
        method: str,
        route: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> Any:
        url = route_url(self.api_root, route, params)
        headers = {"Authorization": self.__authorization, "Accept": "application/json"}
        try:
            async with self._session.request(
                method, url, json=json_body, headers=headers, timeout=self._timeout
            ) as response:
                status = response.status
                text = await response.text(errors="replace")
        except TimeoutError:
            raise self._error(
                f"no answer within {self._timeout.total:g}s", None, "timeout"
            ) from None
        except aiohttp.ClientError as exc:
            raise self._error(
                f"cannot reach the blog: {_describe(exc)}", None, "connection"
            ) from None
        data = _json_or_none(text)
        if status >= 400 or data is None:
            raise self._response_error(status, data, text)
        return data

    def _response_error(self, status: int, data: Any, text: str) -> BlogError:
        if isinstance(data, dict) and isinstance(data.get("code"), str):
            message = _plain(str(data.get("message") or data["code"]))
            return self._error(message, status, data["code"])
        if status < 400:
            return self._error("the blog did not answer with JSON", status, "invalid_json")
        snippet = _plain(text)[:200] or "no details"
        return self._error(snippet, status, None)

    def _error(self, message: str, status: int | None, code: str | None) -> BlogError:
        return BlogError(message, status=status, code=code, blog=self.api_root)


def _comment(data: Any) -> BlogComment:
    """A BlogComment from the REST API's JSON for one comment."""
    if not isinstance(data, dict) or "id" not in data:
        raise BlogError("the blog answered with something that is not a comment", code="invalid")
    content = data.get("content") or {}
    parent = int(data.get("parent") or 0)
    author = int(data.get("author") or 0)
    raw = content.get("raw") if isinstance(content, dict) else None
    return BlogComment(
        id=str(data["id"]),
        post_id=str(data["post"]) if data.get("post") else None,
        parent_id=str(parent) if parent else None,
        author_name=str(data.get("author_name") or ""),
        content_html=str(content.get("rendered", "") if isinstance(content, dict) else content),
        status=_STATUSES.get(str(data.get("status")), "hold"),
        link=data.get("link") or None,
        created=_gmt(data.get("date_gmt")),
        content_raw=raw if isinstance(raw, str) else None,
        author_id=str(author) if author else None,
    )


def _gmt(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
    except ValueError:
        raise BlogError(f"bad comment date from the blog: {value!r}", code="invalid") from None


def _int_id(value: str, what: str) -> int:
    """WordPress ids are positive integers; anything else is the caller's mistake."""
    if not value.isdigit() or int(value) <= 0:
        raise BlogError(f"not a WordPress {what} id: {value!r}", code="invalid_id")
    return int(value)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _plain(text: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
