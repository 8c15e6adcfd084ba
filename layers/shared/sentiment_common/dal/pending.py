"""The queue of comments stored while the model was unreachable (a dead-letter queue behind it)."""

from __future__ import annotations

import json

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

from sentiment_common.dal.aws import client
from sentiment_common.errors import ServiceUnavailableError

# SQS takes at most ten messages per call.
_BATCH = 10


class PendingMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    comment_id: str


class SqsRetryQueue:
    _sqs = client("sqs")

    def __init__(self, queue_url: str) -> None:
        self._url = queue_url

    def enqueue(self, comment_ids: list[str]) -> None:
        """Raise :class:`ServiceUnavailableError` unless every id was accepted; the caller then stores nothing."""
        for start in range(0, len(comment_ids), _BATCH):
            chunk = comment_ids[start : start + _BATCH]
            try:
                answer = self._sqs.send_message_batch(
                    QueueUrl=self._url,
                    Entries=[
                        {"Id": str(i), "MessageBody": PendingMessage(comment_id=comment_id).model_dump_json()}
                        for i, comment_id in enumerate(chunk)
                    ],
                )
            except (ClientError, BotoCoreError) as error:
                raise ServiceUnavailableError("the model is unreachable and the retry queue is too") from error
            if answer.get("Failed"):
                raise ServiceUnavailableError(f"the retry queue refused {len(answer['Failed'])} message(s)")


def parse_message(body: str) -> PendingMessage:
    return PendingMessage.model_validate(json.loads(body))
