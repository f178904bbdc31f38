"""user_reason without a blog: transient errors get none, unknown codes the nearest sentence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.blogs import BlogComment, BlogError, CommentStatus, rejected_reason, user_reason
from bot.blogs import errors as sentences


@pytest.mark.parametrize(
    "error",
    [
        BlogError("refused", code="connection"),
        BlogError("slow", code="timeout"),
        BlogError("down", status=503),
        BlogError("busy", status=502, code="rest_comment_closed"),  # a proxy's 5xx wins
        BlogError("limited", status=429, code="too_many"),
    ],
    ids=repr,
)
def test_transient_errors_have_no_sentence(error: BlogError) -> None:
    assert error.transient
    assert user_reason(error) is None


@pytest.mark.parametrize(
    ("status", "code", "sentence"),
    [
        (403, "rest_comment_closed", sentences.CLOSED),
        (409, "comment_duplicate", sentences.DUPLICATE),
        (403, "isso_cookie_refused", sentences.EDIT_WINDOW),
        (404, "isso_not_found", sentences.COMMENT_GONE),
        (None, "no_cookie", sentences.NO_EDIT_RIGHT),
        (403, "rest_forbidden", sentences.ACCOUNT_REFUSED),  # any other 401/403
        (401, None, sentences.ACCOUNT_REFUSED),
        (404, "rest_no_route", sentences.NO_API),
        (410, None, sentences.COMMENT_GONE),
    ],
)
def test_known_and_nearest_sentences(status: int | None, code: str | None, sentence: str) -> None:
    assert user_reason(BlogError("no", status=status, code=code)) == sentence


def test_an_unknown_refusal_names_its_code() -> None:
    reason = user_reason(BlogError("no", status=400, code="rest_invalid_param"))
    assert reason == "The blog refused the comment (rest_invalid_param)."
    assert user_reason(BlogError("no", status=400)) == "The blog refused the comment (HTTP 400)."


def test_sentences_are_one_short_sentence_each() -> None:
    for sentence in {*sentences.USER_REASONS.values(), sentences.REJECTED_AS_SPAM}:
        assert sentence.endswith(".") and sentence[0].isupper(), sentence
        assert len(sentence) <= 130, sentence
        assert sentence.count(". ") == 0, sentence


@pytest.mark.parametrize(
    ("status", "reason"),
    [("trash", sentences.REJECTED_AS_SPAM), ("spam", sentences.REJECTED_AS_SPAM), ("hold", None)],
)
def test_rejected_reason(status: CommentStatus, reason: str | None) -> None:
    comment = BlogComment("1", "2", None, "Bob", "<p>x</p>", status, None, datetime.now(UTC))
    assert rejected_reason(comment) == reason


def test_rate_limited_refusals() -> None:
    assert BlogError("slow down", status=400, code="comment_flood").rate_limited
    assert BlogError("guard", status=403, code="isso_ratelimit").rate_limited
    assert BlogError("limited", status=429).rate_limited
    assert not BlogError("closed", status=403, code="rest_comment_closed").rate_limited
