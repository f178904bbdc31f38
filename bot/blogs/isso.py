"""Isso comments: ``POST /new?uri=``, ``PUT``/``DELETE``/``GET /id/N`` with the edit cookie.

Isso has no accounts: whoever holds the signed cookie it set on ``/new`` may read,
edit and delete that comment, until the cookie expires (Isso's ``max-age``, 15 min by
default). The cookies are kept per comment id; :meth:`IssoComments.export_cookies`
and :meth:`IssoComments.import_cookies` let the relay persist them. Isso re-signs
the cookie on every edit (it embeds a hash of the text), so the new one replaces
the old. Replies to replies are stored under the top-level comment (one level);
a reply to a parent that does not exist (or is on another thread) becomes top-level.

Isso answers ``text`` rendered to HTML, and the Markdown it stores with ``plain=1``:
``content_raw`` is the latter (on create and update, the text sent, which Isso
stores as is). Errors carry an Isso code of ours, as Isso has none: ``isso_cookie_refused``
(403 on ``/id/N``: cookie expired, i.e. the edit window is over, or not this
comment's), ``isso_ratelimit`` (403 on ``/new``: more than ``[guard] ratelimit``
comments a minute from one address, 2 by default), ``isso_guard`` (403 on ``/new``:
the guard's other rules, e.g. a reply to one's own comment while it is still
editable, or too many top-level comments), ``isso_not_found`` (404), ``isso_invalid``
(400: text shorter than 3 or longer than 65,535 characters).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any

import aiohttp

from bot.blogs.errors import BlogError
from bot.blogs.models import Author, BlogComment, CommentStatus, PostRef

_MODES: dict[int, CommentStatus] = {1: "approved", 2: "hold", 4: "deleted"}
_TAG = re.compile(r"<[^>]*>")


class IssoComments:
    """Comments on one Isso server; ``blog_url`` (the site Isso serves) makes links."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        isso_url: str,
        *,
        timeout: float = 15,
        blog_url: str | None = None,
    ) -> None:
        self._session = session
        self.isso_url = isso_url if isso_url.endswith("/") else isso_url + "/"
        self.blog_url = blog_url.rstrip("/") if blog_url else None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._cookies: dict[str, str] = {}
        self._uris: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"IssoComments(isso_url={self.isso_url!r}, cookies={len(self._cookies)})"

    # --- edit cookies ----------------------------------------------------------

    def export_cookies(self) -> dict[str, str]:
        """Comment id → edit cookie, for the relay to store (they are edit rights: keep private)."""
        return dict(self._cookies)

    def import_cookies(self, cookies: Mapping[str, str]) -> None:
        """Take back cookies from :meth:`export_cookies` (e.g. after a restart)."""
        self._cookies.update({str(key): str(value) for key, value in cookies.items()})

    # --- the protocol ----------------------------------------------------------

    async def create_comment(
        self, post: PostRef, content: str, *, parent: str | None, author: Author
    ) -> BlogComment:
        """Post a comment (``content`` is Markdown, which Isso renders)."""
        body: dict[str, Any] = {
            "text": content,
            "author": author.name,
            "email": author.email,
            "website": None,
            "parent": _int_id(parent) if parent is not None else None,
            "title": post.title or post.id,
        }
        headers, data = await self._call("POST", "new", params={"uri": post.id}, body=body)
        comment_id = str(_field(data, "id"))
        self._keep_cookie(comment_id, headers)
        self._uris[comment_id] = post.id
        return self._comment(data, post.id, raw=content)

    async def update_comment(self, comment_id: str, content: str) -> BlogComment:
        """Edit the text; Isso allows it while the edit cookie lives (``max-age``)."""
        try:
            headers, data = await self._call(
                "PUT", f"id/{_int_id(comment_id)}", body={"text": content}, cookie_for=comment_id
            )
        except BlogError as error:
            raise await self._gone_or(error, comment_id) from None
        self._keep_cookie(comment_id, headers)
        return self._comment(data, self._uris.get(comment_id), raw=content)

    async def delete_comment(self, comment_id: str) -> None:
        """Delete the comment; one already gone (404) counts as done."""
        try:
            await self._call("DELETE", f"id/{_int_id(comment_id)}", body={}, cookie_for=comment_id)
        except BlogError as error:
            if (await self._gone_or(error, comment_id)).status != 404:
                raise
        self._cookies.pop(comment_id, None)

    async def get_comment(self, comment_id: str) -> BlogComment:
        """One comment (Isso answers only to the holder of its edit cookie)."""
        route = f"id/{_int_id(comment_id)}"
        _, data = await self._call("GET", route, cookie_for=comment_id)
        _, plain = await self._call("GET", route, params={"plain": "1"}, cookie_for=comment_id)
        raw = plain.get("text") if isinstance(plain, dict) else None
        return self._comment(data, self._uris.get(comment_id), raw=raw)

    async def comments_since(
        self, post: PostRef, since: datetime, *, include_held: bool = False
    ) -> list[BlogComment]:
        """Published comments of the thread created after ``since``, oldest first.

        The whole thread is read, rendered and as Markdown (``plain=1``): Isso's
        ``after`` filters top-level comments only, so a new reply under an old comment
        would be missed. ``include_held`` changes nothing: Isso shows comments held
        for moderation to nobody but their author's browser and the admin page, so
        only published ones are listed.
        """
        if since.tzinfo is None:
            raise ValueError("comments_since needs a timezone-aware datetime")
        _, data = await self._call("GET", "", params={"uri": post.id})
        _, plain = await self._call("GET", "", params={"uri": post.id, "plain": "1"})
        raw = {str(c.get("id")): c.get("text") for c in _flatten(_field(plain, "replies"))}
        found = [
            self._comment(item, post.id, raw=raw.get(str(item.get("id"))))
            for item in _flatten(_field(data, "replies"))
            if item.get("mode") == 1
        ]
        return sorted((c for c in found if c.created > since), key=lambda c: c.created)

    # --- HTTP ------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        cookie_for: str | None = None,
    ) -> tuple[list[str], Any]:
        headers = {"Accept": "application/json"}
        if cookie_for is not None:
            headers["Cookie"] = f"{cookie_for}={self._cookie(cookie_for)}"
        try:
            async with self._session.request(
                method,
                self.isso_url + path,
                params=params,
                json=body,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                status = response.status
                text = await response.text(errors="replace")
                set_cookies = response.headers.getall("Set-Cookie", [])
        except TimeoutError:
            raise self._error(
                f"no answer within {self._timeout.total:g}s", None, "timeout"
            ) from None
        except aiohttp.ClientError as exc:
            reason = str(exc) or type(exc).__name__
            raise self._error(f"cannot reach Isso: {reason}", None, "connection") from None
        if status >= 400:
            reason = _reason(status, text, path)
            raise self._error(reason, status, _code(status, path, reason))
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            raise self._error("Isso did not answer with JSON", status, "invalid_json") from None
        return set_cookies, data

    def _cookie(self, comment_id: str) -> str:
        try:
            return self._cookies[comment_id]
        except KeyError:
            raise self._error(
                f"no edit cookie for Isso comment {comment_id} (not created through this client)",
                None,
                "no_cookie",
            ) from None

    def _keep_cookie(self, comment_id: str, set_cookies: list[str]) -> None:
        for header in set_cookies:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                continue
            if comment_id in jar and jar[comment_id].value:
                self._cookies[comment_id] = jar[comment_id].value

    async def _gone_or(self, error: BlogError, comment_id: str) -> BlogError:
        """Isso 0.14 answers 500 to an edit or delete of a comment deleted meanwhile.

        (It reads the gone comment's text to check the cookie.) Asking for the comment
        tells that apart from a real server error: a 404 then is the answer.
        """
        if error.status is None or error.status < 500:
            return error
        try:
            await self._call("GET", f"id/{_int_id(comment_id)}", cookie_for=comment_id)
        except BlogError as probe:
            if probe.status == 404:
                return probe
        return error

    def _error(self, message: str, status: int | None, code: str | None) -> BlogError:
        return BlogError(message, status=status, code=code, blog=self.isso_url)

    def _comment(self, data: Any, uri: str | None, *, raw: Any = None) -> BlogComment:
        comment_id = str(_field(data, "id"))
        link = None
        if self.blog_url and uri:
            link = f"{self.blog_url}{uri}#isso-{comment_id}"
        return BlogComment(
            id=comment_id,
            post_id=uri,
            parent_id=str(data["parent"]) if data.get("parent") else None,
            author_name=str(data.get("author") or ""),
            content_html=str(data.get("text") or ""),
            status=_MODES.get(int(data.get("mode") or 1), "hold"),
            link=link,
            created=datetime.fromtimestamp(float(data.get("created") or 0), UTC),
            content_raw=raw if isinstance(raw, str) else None,
        )


def _flatten(items: Any) -> list[dict[str, Any]]:
    """Top-level comments and their replies, in one list."""
    flat: list[dict[str, Any]] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            flat.append(item)
            flat += _flatten(item.get("replies"))
    return flat


def _field(data: Any, name: str) -> Any:
    if not isinstance(data, dict) or name not in data:
        raise BlogError(f"Isso's answer has no {name!r}", code="invalid")
    return data[name]


def _int_id(value: str) -> int:
    if not value.isdigit():
        raise BlogError(f"not an Isso comment id: {value!r}", code="invalid_id")
    return int(value)


def _code(status: int, path: str, reason: str) -> str | None:
    """Our name for an Isso refusal (Isso gives none); see the module docstring."""
    if status == 403 and path == "new":
        return "isso_ratelimit" if "ratelimit exceeded" in reason else "isso_guard"
    if status == 403:
        return "isso_cookie_refused"
    return {404: "isso_not_found", 400: "isso_invalid"}.get(status)


def _reason(status: int, text: str, path: str) -> str:
    plain = " ".join(html.unescape(_TAG.sub(" ", text)).split())
    if status == 403 and path == "new":
        return f"Isso's guard refused the comment: {plain[:200]}"
    if status == 403:
        return "Isso refused: the edit cookie is missing, expired or no longer matches"
    if status == 404:
        return "no such comment on Isso"
    return plain[:200] or f"HTTP {status}"
