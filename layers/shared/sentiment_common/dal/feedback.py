"""Feedback objects in the data bucket: ``feedback/dt=YYYY-MM-DD/<feedback_id>.json``.

Their creation is what starts retraining (an S3 notification on the ``feedback/`` prefix).
"""

from __future__ import annotations

from sentiment_common.dal.aws import client
from sentiment_common.dal.transient import unavailable_when_transient
from sentiment_common.records import FeedbackRecord, feedback_key


class S3FeedbackArchive:
    _s3 = client("s3")

    def __init__(self, bucket: str) -> None:
        self._bucket = bucket

    def put(self, record: FeedbackRecord) -> str:
        key = feedback_key(record)
        with unavailable_when_transient("the data bucket"):
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=record.model_dump_json().encode(),
                ContentType="application/json",
            )
        return key

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)
