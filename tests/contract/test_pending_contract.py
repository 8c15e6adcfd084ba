"""The pending queue's contract, held by the SQS adapter (on moto) and by the in-memory fake."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import boto3
import pytest

from sentiment_common.dal.pending import SqsRetryQueue, parse_message
from sentiment_common.errors import ServiceUnavailableError
from sentiment_common.ports import RetryQueue
from tests.fakes.stores import FakeRetryQueue

Received = Callable[[], list[str]]


@pytest.fixture(params=["sqs", "fake"])
def queue(request: pytest.FixtureRequest) -> Iterator[tuple[RetryQueue, Received, RetryQueue]]:
    """The queue, the comment ids it holds, and a queue that cannot be reached."""
    if request.param == "fake":
        fake = FakeRetryQueue()
        yield fake, lambda: list(fake.comment_ids), FakeRetryQueue(unreachable=True)
        return
    request.getfixturevalue("aws")
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="pending")["QueueUrl"]

    def received() -> list[str]:
        ids: list[str] = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            ids += [parse_message(message["Body"]).comment_id for message in messages]
        return ids

    yield SqsRetryQueue(url), received, SqsRetryQueue(url.replace("/pending", "/no-such-queue"))


def test_every_id_is_queued_whatever_the_batch_size(queue: tuple[RetryQueue, Received, RetryQueue]) -> None:
    pending, received, _ = queue
    ids = [f"c{n:02d}" for n in range(23)]
    pending.enqueue(ids[:1])
    pending.enqueue(ids[1:])
    assert sorted(received()) == ids


def test_an_unreachable_queue_is_a_service_unavailable(queue: tuple[RetryQueue, Received, RetryQueue]) -> None:
    _, _, unreachable = queue
    with pytest.raises(ServiceUnavailableError):
        unreachable.enqueue(["c1"])
