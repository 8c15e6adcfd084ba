"""The feedback archive's contract, held by the S3 adapter (on moto) and by the in-memory fake."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import boto3
import pytest

from sentiment_common.dal.feedback import S3FeedbackArchive
from sentiment_common.ports import FeedbackArchive
from sentiment_common.records import FeedbackRecord
from tests.fakes.stores import FakeFeedbackArchive

Read = Callable[[str], bytes | None]


@pytest.fixture(params=["s3", "fake"])
def feedback(request: pytest.FixtureRequest) -> Iterator[tuple[FeedbackArchive, Read]]:
    """The archive, and how to read an object back (None when there is none)."""
    if request.param == "fake":
        fake = FakeFeedbackArchive()
        yield fake, fake.objects.get
        return
    request.getfixturevalue("aws")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data")

    def read(key: str) -> bytes | None:
        try:
            body: bytes = s3.get_object(Bucket="data", Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None
        return body

    yield S3FeedbackArchive("data"), read


def record(feedback_id: str = "f1") -> FeedbackRecord:
    return FeedbackRecord(
        feedback_id=feedback_id,
        comment_id="c1",
        text="slow delivery",
        label="negative",
        predicted_label="neutral",
        model_version="v1",
        created_at=datetime(2026, 3, 1, 23, 59, tzinfo=UTC),
    )


def test_a_record_is_stored_under_its_day_and_id(feedback: tuple[FeedbackArchive, Read]) -> None:
    archive, read = feedback
    key = archive.put(record())
    assert key == "feedback/dt=2026-03-01/f1.json"
    body = read(key)
    assert body is not None
    assert FeedbackRecord.model_validate_json(body) == record()


def test_a_deleted_record_is_gone_and_others_stay(feedback: tuple[FeedbackArchive, Read]) -> None:
    archive, read = feedback
    gone, kept = archive.put(record("f1")), archive.put(record("f2"))
    archive.delete(gone)
    assert read(gone) is None
    assert read(kept) is not None
