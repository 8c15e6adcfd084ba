"""The comments store's contract, held by the DynamoDB adapter (on moto) and by the in-memory fake."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from sentiment_common.dal.comments import DynamoDbCommentStore, encode_token
from sentiment_common.errors import InvalidInputError, NotFoundError
from sentiment_common.ports import CommentStore
from sentiment_common.records import (
    Comment,
    CommentStatus,
    ExplainedPrediction,
    Explanation,
    FeedbackMark,
    Label,
    LabelSource,
)
from tests.contract.conftest import create_table, implementation
from tests.fakes.stores import FakeCommentStore, prediction

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["dynamodb", "fake"])
def comments(request: pytest.FixtureRequest) -> CommentStore:
    return implementation(request, FakeCommentStore, lambda: DynamoDbCommentStore(create_table("CommentsTable")))


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


def foreign(n: int, language: str = "de") -> Comment:
    """A comment in a language the model was not trained for: scored, and marked unsupported."""
    return classified(n).model_copy(update={"prediction": prediction("positive", 0.81, language=language)})


def test_a_comments_language_reads_back_from_the_item_and_from_every_listing(comments: CommentStore) -> None:
    comments.put_all([classified(1), foreign(2), foreign(3, "ja")])
    expected = {"c001": ("en", True), "c002": ("de", False), "c003": ("ja", False)}
    read = {
        "get": [comments.get(comment_id) for comment_id in expected],
        "list": comments.list(None, 10, None)[0],
        "by sentiment": comments.list("positive", 10, None)[0],
    }
    for where, page in read.items():
        answers = {c.comment_id: (c.prediction.language, c.prediction.supported) for c in page if c.prediction}
        assert answers == expected, where


def test_a_comment_in_a_language_the_model_cannot_read_never_joins_the_review_queue(comments: CommentStore) -> None:
    comments.put_all([classified(1, confidence=0.9), foreign(2)])
    comments.put_new(pending(3))
    assert comments.classify_pending("c003", prediction("negative", 0.4, language="de")) == "unsupported"
    assert comments.get("c003").prediction == prediction("negative", 0.4, language="de")
    assert ids(comments.review_queue(10, None)[0]) == ["c001"]


def test_classify_pending_skips_a_classified_or_missing_comment(comments: CommentStore) -> None:
    comments.put_new(classified(1))
    assert comments.classify_pending("c001", prediction("negative")) == "skipped"
    assert comments.classify_pending("nobody", prediction("negative")) == "skipped"
    assert comments.get("c001").prediction == prediction("positive")
    with pytest.raises(NotFoundError):
        comments.get("nobody")


def reviewed(label: Label = "neutral", feedback_id: str = "r1") -> FeedbackMark:
    return FeedbackMark(
        feedback_id=feedback_id,
        label=label,
        created_at=START + timedelta(days=1),
        source=LabelSource.REVIEWER,
        reviewer="ana",
    )


def test_a_reviewers_label_reads_back_with_its_reviewer(comments: CommentStore) -> None:
    comments.put_new(classified(1))
    comments.mark_feedback("c001", reviewed())
    assert comments.get("c001").feedback == reviewed()


def test_a_public_label_leaves_a_comment_a_reviewer_labelled_as_it_was(comments: CommentStore) -> None:
    comments.put_new(classified(1))
    comments.mark_feedback("c001", reviewed("neutral"))

    before = comments.mark_feedback("c001", mark("negative", "f2"))

    assert before.feedback == reviewed("neutral")
    assert comments.get("c001").feedback == reviewed("neutral")
    assert comments.review_queue(10, None)[0] == []


def test_a_reviewer_replaces_a_public_label_and_another_reviewer_replaces_a_reviewer(comments: CommentStore) -> None:
    comments.put_new(classified(1))
    comments.mark_feedback("c001", mark("negative", "f1"))
    comments.mark_feedback("c001", reviewed("neutral", "r1"))
    later = FeedbackMark(
        feedback_id="r2",
        label="positive",
        created_at=START + timedelta(days=2),
        source=LabelSource.REVIEWER,
        reviewer="bo",
    )
    comments.mark_feedback("c001", later)
    assert comments.get("c001").feedback == later


def test_a_suggestion_moves_its_comment_to_the_front_of_the_review_queue(comments: CommentStore) -> None:
    comments.put_all([classified(1, confidence=0.4), classified(2, confidence=0.9), classified(3, confidence=0.6)])

    before = comments.suggest("c002", mark("negative", "s1"))

    assert before.suggestion is None
    queue, _ = comments.review_queue(10, None)
    assert ids(queue) == ["c002", "c001", "c003"]
    assert queue[0].suggestion == mark("negative", "s1")
    assert queue[0].feedback is None


def test_suggested_comments_page_through_the_queue_before_the_rest(comments: CommentStore) -> None:
    comments.put_all([classified(n, confidence=0.4 + n / 20) for n in range(1, 5)])
    comments.suggest("c004", mark("negative", "s1"))
    comments.suggest("c003", mark("neutral", "s2"))
    first, token = comments.review_queue(2, None)
    rest, _ = comments.review_queue(2, token)
    assert ids(first) + ids(rest) == ["c003", "c004", "c001", "c002"]


def test_a_suggestion_keeps_a_labelled_comment_out_of_the_queue_and_its_label(comments: CommentStore) -> None:
    comments.put_all([classified(1), classified(2)])
    comments.mark_feedback("c001", mark("negative", "f1"))
    comments.mark_feedback("c002", reviewed("neutral"))

    comments.suggest("c001", mark("positive", "s1"))
    comments.suggest("c002", mark("positive", "s2"))

    assert comments.get("c001").feedback == mark("negative", "f1")
    assert comments.get("c001").suggestion == mark("positive", "s1")
    assert comments.get("c002") == classified(2).model_copy(update={"feedback": reviewed("neutral")})
    assert comments.review_queue(10, None)[0] == []


def test_a_suggested_comment_leaves_the_queue_once_labelled(comments: CommentStore) -> None:
    comments.put_new(classified(1))
    comments.suggest("c001", mark("negative", "s1"))
    comments.mark_feedback("c001", reviewed("negative"))
    assert comments.review_queue(10, None)[0] == []
    assert comments.get("c001").feedback == reviewed("negative")


def test_a_suggestion_on_an_unknown_comment_is_not_found(comments: CommentStore) -> None:
    with pytest.raises(NotFoundError):
        comments.suggest("nobody", mark())


# ---- retention and kept explanations ----

RETENTION_DAYS = 30


@pytest.fixture(params=["dynamodb", "fake"])
def retained(request: pytest.FixtureRequest) -> CommentStore:
    """A store that keeps comments RETENTION_DAYS days."""
    return implementation(
        request,
        lambda: FakeCommentStore(RETENTION_DAYS),
        lambda: DynamoDbCommentStore(create_table("CommentsTable"), RETENTION_DAYS),
    )


def aged(n: int, days: float, label: Label = "positive") -> Comment:
    """Made ``days`` ago."""
    return classified(n, label).model_copy(update={"created_at": datetime.now(UTC) - timedelta(days=days)})


def test_a_comment_past_its_retention_is_gone_to_every_read_and_write(retained: CommentStore) -> None:
    waiting = pending(3).model_copy(update={"created_at": datetime.now(UTC) - timedelta(days=1)})
    retained.put_all([aged(1, RETENTION_DAYS + 1), aged(2, RETENTION_DAYS - 1), waiting])
    retained.put_new(aged(4, RETENTION_DAYS + 0.5, "negative"))
    retained.put_new(
        pending(5).model_copy(update={"created_at": datetime.now(UTC) - timedelta(days=RETENTION_DAYS + 1)})
    )

    with pytest.raises(NotFoundError):
        retained.get("c001")
    assert read_all(retained) == ["c003", "c002"]
    assert read_all(retained, "negative") == []
    assert ids(retained.review_queue(10, None)[0]) == ["c002"]
    with pytest.raises(NotFoundError):
        retained.mark_feedback("c001", mark())
    assert retained.classify_pending("c005", prediction("negative")) == "skipped"
    assert retained.classify_pending("c003", prediction("negative")) == "queued"


def test_a_kept_explanation_reads_back_with_its_comment_and_not_in_listings(comments: CommentStore) -> None:
    comments.put_new(classified(1))
    answer = prediction("positive", 0.9)
    explained = ExplainedPrediction(
        **answer.model_dump(),
        explanation=Explanation(method="occlusion", label="positive", tokens_per_span=1, tokens=[]),
    )

    comments.keep_explanation("c001", explained)
    comments.keep_explanation("nobody", explained)  # gone: nothing is made

    assert comments.get("c001").explanation == explained
    assert comments.get("c001").model_copy(update={"explanation": None}) == classified(1)
    assert [comment.explanation for comment in comments.list(None, 10, None)[0]] == [None]
    with pytest.raises(NotFoundError):
        comments.get("nobody")
