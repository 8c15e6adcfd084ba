"""Lambda's SQS poller: what a finished invocation consumes, and a real poll against moto's SQS with
the handler run in a worker (which reports its failures by message body; it never calls AWS itself)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sentiment_local.runtime.event_sources import SqsPoller, items_to_delete
from tests.integration.local.conftest import Code, RunnerFactory, function_spec, read_json_lines, wait_for

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:events-queue"
REPORT = {"BatchSize": 10, "FunctionResponseTypes": ["ReportBatchItemFailures"]}


def records(*ids: str) -> list[dict[str, Any]]:
    return [
        {"messageId": identifier, "receiptHandle": f"handle-{identifier}", "body": identifier} for identifier in ids
    ]


# ---- items_to_delete ----


def test_without_report_batch_item_failures_every_record_is_consumed() -> None:
    batch = records("a", "b", "c")
    assert items_to_delete(batch, {"batchItemFailures": [{"itemIdentifier": "b"}]}, report_failures=False) == batch
    assert items_to_delete(batch, None, report_failures=False) == batch


def test_reported_failures_stay_and_the_rest_is_consumed() -> None:
    batch = records("a", "b", "c")
    answer = {"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "not-in-batch"}]}
    assert [record["messageId"] for record in items_to_delete(batch, answer, report_failures=True)] == ["a", "c"]
    assert items_to_delete(batch, {"batchItemFailures": []}, report_failures=True) == batch
    assert items_to_delete(batch, {}, report_failures=True) == batch  # no failures reported
    # Entries that are not objects name nothing.
    assert items_to_delete(batch, {"batchItemFailures": ["a", 3]}, report_failures=True) == batch


@pytest.mark.parametrize(
    "answer",
    [None, "OK", 1, ["a"], {"batchItemFailures": "b"}, {"batchItemFailures": {"itemIdentifier": "b"}}],
)
def test_an_unreadable_answer_consumes_nothing(answer: Any) -> None:
    assert items_to_delete(records("a", "b"), answer, report_failures=True) == []


# ---- polling a queue ----


@dataclass
class Queue:
    """A moto queue (visibility timeout one second) and pollers on it for a worker run by a real Runner;
    the handler appends every event it gets to ``out``."""

    sqs: Any
    url: str
    out: Path
    code: Code
    make_runner: RunnerFactory

    def poller(self, action: str, properties: dict[str, Any]) -> SqsPoller:
        spec = function_spec("Worker", self.code.first, environment={"ACTION": action, "OUT": str(self.out)})
        runner = self.make_runner(spec)
        return SqsPoller(runner, "Worker", sqs=self.sqs, queue_url=self.url, queue_arn=QUEUE_ARN, properties=properties)

    def send(self, *bodies: str) -> None:
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.url, MessageBody=body)

    def counts(self) -> tuple[int, int]:
        """(visible, in flight)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def receive_again(self, expected: int) -> list[dict[str, Any]]:
        """What comes back once the visibility timeout has passed."""
        received: list[dict[str, Any]] = []

        def more() -> bool:
            answer = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
            )
            received.extend(answer.get("Messages", []))
            return len(received) >= expected

        wait_for(more, message=f"{expected} messages to be visible again")
        return received

    def events(self) -> list[Any]:
        return read_json_lines(self.out)


@pytest.fixture
def queue(aws_credentials: None, code: Code, make_runner: RunnerFactory, tmp_path: Path) -> Iterator[Queue]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="events-queue", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
        yield Queue(sqs, url, tmp_path / "events.jsonl", code, make_runner)


def test_a_poll_deletes_what_succeeded_and_keeps_the_reported_failure(queue: Queue) -> None:
    queue.send("keep one", "please fail", "keep two")

    assert queue.poller("sqs_report", REPORT).poll_once() == 3

    (event,) = queue.events()
    assert sorted(record["body"] for record in event["Records"]) == ["keep one", "keep two", "please fail"]
    for record in event["Records"]:
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == QUEUE_ARN
        assert record["awsRegion"] == "us-east-1"
        assert record["receiptHandle"]
        assert record["md5OfBody"]
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert queue.counts() == (0, 1)  # two deleted, the failure in flight

    (again,) = queue.receive_again(expected=1)
    assert again["Body"] == "please fail"
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    failed_id = next(record["messageId"] for record in event["Records"] if record["body"] == "please fail")
    assert again["MessageId"] == failed_id


def test_without_report_batch_item_failures_the_whole_batch_is_deleted(queue: Queue) -> None:
    queue.send("keep one", "please fail")

    assert queue.poller("sqs_report", {"BatchSize": 10}).poll_once() == 2

    assert queue.counts() == (0, 0)


def test_a_raising_handler_deletes_nothing(queue: Queue) -> None:
    queue.send("one", "two", "three")

    assert queue.poller("sqs_raise", REPORT).poll_once() == 3

    assert len(queue.events()) == 1  # the handler did run
    assert queue.counts() == (0, 3)
    assert sorted(message["Body"] for message in queue.receive_again(expected=3)) == ["one", "three", "two"]


def test_an_unreadable_answer_deletes_nothing(queue: Queue) -> None:
    queue.send("one", "two")

    assert queue.poller("sqs_garbage", REPORT).poll_once() == 2

    assert len(queue.events()) == 1
    assert queue.counts() == (0, 2)


def test_an_empty_queue_invokes_nothing(queue: Queue) -> None:
    assert queue.poller("sqs_report", REPORT).poll_once() == 0
    assert not queue.out.exists()


def test_a_poll_takes_at_most_batch_size_messages(queue: Queue) -> None:
    queue.send("one", "two", "three")

    assert queue.poller("sqs_report", {**REPORT, "BatchSize": 2}).poll_once() == 2

    (event,) = queue.events()
    assert len(event["Records"]) == 2
    assert queue.counts() == (1, 0)  # the third one was never received


def test_a_batching_window_fills_a_batch_past_ten_and_deletes_it_in_chunks(queue: Queue) -> None:
    bodies = [f"message {n:02d}" for n in range(13)]
    queue.send(*bodies)
    properties = {**REPORT, "BatchSize": 20, "MaximumBatchingWindowInSeconds": 1}

    assert queue.poller("sqs_report", properties).poll_once() == 13

    (event,) = queue.events()
    assert sorted(record["body"] for record in event["Records"]) == bodies
    assert queue.counts() == (0, 0)


def test_the_poller_thread_consumes_the_queue_until_stopped(queue: Queue) -> None:
    thread = queue.poller("sqs_report", REPORT)
    thread.start()
    try:
        queue.send("first")
        wait_for(queue.events, message="the first message to be handled")
        queue.send("second")
        wait_for(
            lambda: "second" in {record["body"] for event in queue.events() for record in event["Records"]},
            message="the second message to be handled",
        )
        wait_for(lambda: queue.counts() == (0, 0), message="the queue to be empty")
    finally:
        thread.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_disabled_event_source_does_not_poll(queue: Queue) -> None:
    queue.send("ignored")
    thread = queue.poller("sqs_report", {**REPORT, "Enabled": False})

    thread.start()
    thread.join(timeout=10)

    assert not thread.is_alive()
    assert not queue.out.exists()
    assert queue.counts() == (1, 0)
