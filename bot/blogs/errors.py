"""The one error type of the blog clients, so the relay can decide: retry, or tell the user."""

from __future__ import annotations

from bot.blogs.models import BlogComment

TRANSIENT_CODES = frozenset({"connection", "timeout"})
# Refusals for going too fast that the blog answers with a 400 or 403, not a 429:
# permanent by status (the user is told), yet the same text would pass a bit later.
RATE_LIMIT_CODES = frozenset({"comment_flood", "isso_ratelimit"})


class BlogError(Exception):
    """A blog refused or could not be reached; carries what the relay needs to decide.

    ``status`` is the HTTP status (None when no answer came), ``code`` the blog's own
    error code (WordPress ``comment_duplicate``, ``rest_comment_closed``...; ``connection``
    and ``timeout`` when no answer came), ``message`` a sentence for people. Never
    carries credentials: callers build it from the response body, not the request.
    """

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, blog: str = ""
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.blog = blog
        super().__init__(message)

    @property
    def transient(self) -> bool:
        """Worth retrying later: no answer, a timeout, 5xx or 429 (rate limited)."""
        if self.status is None:
            return self.code in TRANSIENT_CODES
        return self.status >= 500 or self.status == 429

    @property
    def rate_limited(self) -> bool:
        """The blog refused for going too fast (a 429, WordPress's 15-second flood
        check for non-moderators, Isso's per-minute guard): a caller may wait and retry."""
        return self.status == 429 or self.code in RATE_LIMIT_CODES

    def __str__(self) -> str:
        where = f"{self.blog}: " if self.blog else ""
        details = ", ".join(
            part
            for part in (
                f"HTTP {self.status}" if self.status is not None else "",
                self.code or "",
            )
            if part
        )
        return f"{where}{self.message}" + (f" ({details})" if details else "")

    def __repr__(self) -> str:
        return (
            f"BlogError({self.message!r}, status={self.status!r}, code={self.code!r}, "
            f"blog={self.blog!r})"
        )


# Sentences for Discord users, by the blog's error code (WordPress 6.1's, read in
# WP_REST_Comments_Controller and wp-includes/comment.php and provoked for real by
# tests/blogs/test_wordpress.py; Isso's are the client's own, see bot/blogs/isso.py).
CLOSED = "Comments are closed on that post."
POST_TRASHED = "That post has been deleted from the blog."
POST_UNPUBLISHED = "That post is not published on the blog."
POST_MISSING = "That post does not exist on the blog."
DUPLICATE = "You already said that: the blog has the same comment."
EMPTY = "The comment is empty."
TOO_LONG = "The comment is too long for the blog."
AUTHOR_TOO_LONG = "The name, email or website is too long for the blog."
TOO_FAST = "The blog says comments are coming too fast; wait a minute and post again."
NAME_REQUIRED = "The blog requires a name and an email address for comments."
SPAM_GUARD = "The blog's spam guard refused the comment."
INVALID_TEXT = "The blog refused the text: too short or too long."
CANNOT_APPROVE = (
    "The blog's account may not approve comments; an operator should give it moderator "
    "rights or make guests moderated."
)
ACCOUNT_REFUSED = "The blog refused the relay's account; an operator should check it."
EDIT_WINDOW = "The blog's edit window for that comment has closed; it cannot be changed now."
NO_EDIT_RIGHT = "The relay can no longer change that comment on the blog."
COMMENT_GONE = "That comment no longer exists on the blog."
REJECTED_AS_SPAM = "The blog's spam filter rejected the comment."
NO_API = "The blog's comment API cannot be found; an operator should check the blog's address."

USER_REASONS: dict[str, str] = {
    "rest_comment_closed": CLOSED,
    "rest_comment_trash_post": POST_TRASHED,
    "rest_comment_draft_post": POST_UNPUBLISHED,
    "rest_cannot_read_post": POST_UNPUBLISHED,
    "rest_comment_invalid_post_id": POST_MISSING,
    "rest_post_invalid_id": POST_MISSING,
    "comment_duplicate": DUPLICATE,
    "rest_comment_content_invalid": EMPTY,
    "comment_content_column_length": TOO_LONG,
    "comment_author_column_length": AUTHOR_TOO_LONG,
    "comment_author_email_column_length": AUTHOR_TOO_LONG,
    "comment_author_url_column_length": AUTHOR_TOO_LONG,
    "comment_flood": TOO_FAST,
    "rest_comment_author_data_required": NAME_REQUIRED,
    "rest_comment_invalid_status": CANNOT_APPROVE,
    "rest_comment_login_required": ACCOUNT_REFUSED,
    "incorrect_password": ACCOUNT_REFUSED,
    "invalid_username": ACCOUNT_REFUSED,
    "rest_comment_invalid_id": COMMENT_GONE,
    "isso_cookie_refused": EDIT_WINDOW,
    "no_cookie": NO_EDIT_RIGHT,
    "isso_not_found": COMMENT_GONE,
    "isso_guard": SPAM_GUARD,
    "isso_ratelimit": TOO_FAST,
    "isso_invalid": INVALID_TEXT,
    "rest_no_route": NO_API,
}


def user_reason(error: BlogError) -> str | None:
    """One sentence for the Discord user whose comment the blog refused for good.

    None when the error is transient: the relay retries, the user waits. Any other
    refusal gets a sentence, the closest one when the code is unknown.
    """
    if error.transient:
        return None
    if error.code in USER_REASONS:
        return USER_REASONS[error.code]
    if error.status in (401, 403):
        return ACCOUNT_REFUSED
    if error.status in (404, 410):
        return COMMENT_GONE
    return f"The blog refused the comment ({error.code or f'HTTP {error.status}'})."


def rejected_reason(comment: BlogComment) -> str | None:
    """The sentence for a comment the blog took but filed as spam or trash at once.

    WordPress does that, without an error, to a comment with a disallowed word (the
    "Disallowed Comment Keys" setting) that is not a moderator's own.
    """
    return REJECTED_AS_SPAM if comment.status in ("spam", "trash") else None
