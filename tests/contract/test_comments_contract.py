"""The comments store's contract, held by the DynamoDB adapter (on moto) and by the in-memory fake."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from sentiment_common.dal.comments import CommentsRepository, encode_token
from sentiment_common.errors import InvalidInputError, NotFoundError
from sentiment_common.models import Comment, CommentStatus, FeedbackMark, Label
from sentiment_common.ports import CommentStore
from tests.contract.conftest import create_table, implementation
from tests.fakes.stores import FakeComments, prediction

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["dynamodb", "fake"])
def comments(request: pytest.FixtureRequest) -> CommentStore:
    return implementation(request, FakeComments, lambda: CommentsRepository(create_table("CommentsTable")))


def classified(n: int, label: Label = "positive", confidence: float = 0.9) -> Comment:
    return Comment(
        comment_id=f"c{n:03d}",
        text=f"comment {n}",
        created_at=START + timedelta(minutes=n),
        status=CommentStatus.CLASSIFIED,
        prediction=prediction(label, confidence),
    )


def pending(n: int) -> Comment:
    return Comment(
        comment_id=f"c{n:03d}",
        text=f"comment {n}",
        created_at=START + timedelta(minutes=n),
        status=CommentStatus.PENDING,
    )


def mark(label: Label = "negative", feedback_id: str = "f1") -> FeedbackMark:
    return FeedbackMark(feedback_id=feedback_id, label=label, created_at=START + timedelta(days=1))


def ids(page: list[Comment]) -> list[str]:
    return [comment.comment_id for comment in page]


def read_all(comments: CommentStore, sentiment: str | None = None, limit: int = 2) -> list[str]:
    found: list[str] = []
    token = None
    while True:
        page, token = comments.list(sentiment, limit, token)
        found += ids(page)
        if token is None:
            return found


def test_a_stored_comment_reads_back_as_it_was_stored(comments: CommentStore) -> None:
    comment = classified(1).model_copy(update={"prediction": prediction("neutral", 0.512345)})
    comments.put_new(comment)
    assert comments.get("c001") == comment


def test_put_new_refuses_an_id_already_stored(comments: CommentStore) -> None:
    comments.put_new(classified(1))
    with pytest.raises(ClientError):
        comments.put_new(classified(1, "negative"))
    assert comments.get("c001").prediction == prediction("positive")


def test_put_all_stores_all_or_nothing(comments: CommentStore) -> None:
    comments.put_all([classified(1), pending(2)])
    assert comments.get("c002").status is CommentStatus.PENDING
    with pytest.raises(ClientError):
        comments.put_all([classified(3), classified(1)])
    with pytest.raises(NotFoundError):
        comments.get("c003")


def test_get_of_an_unknown_id_is_not_found(comments: CommentStore) -> None:
    with pytest.raises(NotFoundError):
        comments.get("nobody")


def test_listing_is_newest_first_in_pages(comments: CommentStore) -> None:
    comments.put_all([classified(n, "negative" if n % 2 else "positive") for n in range(1, 6)] + [pending(6)])
    assert read_all(comments) == ["c006", "c005", "c004", "c003", "c002", "c001"]
    assert read_all(comments, "negative") == ["c005", "c003", "c001"]
    assert read_all(comments, "pending") == ["c006"]
    assert read_all(comments, "neutral") == []


def test_a_page_token_continues_only_its_own_listing(comments: CommentStore) -> None:
    comments.put_all([classified(n, "negative" if n % 2 else "positive") for n in range(1, 6)])
    _, negative = comments.list("negative", 1, None)
    _, everything = comments.list(None, 1, None)
    _, review = comments.review_queue(1, None)
    assert negative and everything and review
    for sentiment, token in [("positive", negative), (None, negative), ("negative", everything), (None, review)]:
        with pytest.raises(InvalidInputError):
            comments.list(sentiment, 1, token)
    with pytest.raises(InvalidInputError):
        comments.review_queue(1, everything)
    with pytest.raises(InvalidInputError):
        comments.list(None, 1, "not a token!")


def forged(token: str, **values: str) -> str:
    """A page token with some of its key values changed: what DynamoDB would refuse as a start key outside
    the query's partition (a ValidationException, which would be a 500 if it got there)."""
    key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return encode_token(key | values)


@pytest.mark.parametrize(
    ("listing", "forge"),
    [
        ("everything", {"entity": "COMMENT#other"}),
        ("negative", {"sentiment": "positive"}),
        ("negative", {"sentiment": "pending"}),
        ("review", {"review": "CLOSED"}),
    ],
)
def test_a_token_forged_for_another_partition_is_refused_as_bad_input(
    comments: CommentStore, listing: str, forge: dict[str, str]
) -> None:
    # Given a token this API issued, its partition value changed
    comments.put_all([classified(n, "negative" if n % 2 else "positive", 0.6) for n in range(1, 6)])
    pages = {
        "everything": lambda token: comments.list(None, 1, token),
        "negative": lambda token: comments.list("negative", 1, token),
        "review": lambda token: comments.review_queue(1, token),
    }
    _, token = pages[listing](None)
    assert token is not None
    # When it is passed back to the same listing, Then it is refused as the caller's mistake
    with pytest.raises(InvalidInputError, match="next_token belongs to another") as refused:
        pages[listing](forged(token, **forge))
    assert refused.value.details[0]["loc"] == ["query", "next_token"]


def test_the_review_queue_is_unlabelled_classified_comments_least_sure_first(comments: CommentStore) -> None:
    comments.put_all([classified(1, confidence=0.9), classified(2, confidence=0.4), classified(3, confidence=0.6)])
    comments.put_new(pending(4))
    comments.put_new(classified(5, confidence=0.5))
    comments.mark_feedback("c005", mark())
    first, token = comments.review_queue(2, None)
    assert ids(first) == ["c002", "c003"]
    rest, _ = comments.review_queue(2, token)
    assert ids(rest) == ["c001"]


def test_mark_feedback_returns_the_comment_as_it_was_and_keeps_the_latest_label(comments: CommentStore) -> None:
    comments.put_new(classified(1))
    before = comments.mark_feedback("c001", mark("negative", "f1"))
    assert before.feedback is None
    again = comments.mark_feedback("c001", mark("neutral", "f2"))
    assert again.feedback == mark("negative", "f1")
    assert comments.get("c001").feedback == mark("neutral", "f2")
    assert comments.review_queue(10, None)[0] == []


def test_mark_feedback_on_an_unknown_comment_is_not_found(comments: CommentStore) -> None:
    with pytest.raises(NotFoundError):
        comments.mark_feedback("nobody", mark())
    with pytest.raises(NotFoundError):
        comments.get("nobody")


def test_a_pending_comment_classified_joins_the_review_queue(comments: CommentStore) -> None:
    comments.put_new(pending(1))
    assert comments.classify_pending("c001", prediction("negative", 0.7)) == "queued"
    stored = comments.get("c001")
    assert stored.status is CommentStatus.CLASSIFIED
    assert stored.prediction == prediction("negative", 0.7)
    assert ids(comments.review_queue(10, None)[0]) == ["c001"]
    assert read_all(comments, "negative") == ["c001"]
    assert read_all(comments, "pending") == []


def test_a_pending_comment_labelled_meanwhile_is_classified_but_not_queued(comments: CommentStore) -> None:
    comments.put_new(pending(1))
    comments.mark_feedback("c001", mark("positive"))
    assert comments.classify_pending("c001", prediction("negative")) == "labelled"
    assert comments.get("c001").prediction == prediction("negative")
    assert comments.get("c001").feedback == mark("positive")
    assert comments.review_queue(10, None)[0] == []


def test_classify_pending_skips_a_classified_or_missing_comment(comments: CommentStore) -> None:
    comments.put_new(classified(1))
    assert comments.classify_pending("c001", prediction("negative")) == "skipped"
    assert comments.classify_pending("nobody", prediction("negative")) == "skipped"
    assert comments.get("c001").prediction == prediction("positive")
    with pytest.raises(NotFoundError):
        comments.get("nobody")
