"""Lambda's event sources: the SQS poller, for the functions whose template events read a queue, and
EventBridge's schedules, for the functions with a ``Schedule`` event.

It receives up to ``BatchSize`` messages (waiting up to ``MaximumBatchingWindowInSeconds`` to fill a
batch), invokes the function with an SQS event, and deletes what succeeded. With
``ReportBatchItemFailures`` only the reported items stay; a failed invocation leaves the whole batch.
What stays becomes visible again after the queue's visibility timeout, and moto's redrive policy
moves it to the dead-letter queue after ``maxReceiveCount`` receives, as on AWS.

A schedule invokes its function asynchronously (as EventBridge does) with a ``Scheduled Event`` once
per period of its ``rate(...)`` expression, the first one period after the stack starts. ``cron(...)``
expressions are not run locally.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sentiment_local.runtime.background import Background
from sentiment_local.runtime.functions import Runner
from sentiment_template.reader import ACCOUNT, REGION

log = logging.getLogger(__name__)

MAX_RECEIVE = 10  # SQS hands out at most ten messages per receive


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def items_to_delete(records: list[dict[str, Any]], result: Any, report_failures: bool) -> list[dict[str, Any]]:
    """Which records a finished invocation consumed."""
    if not report_failures:
        return records
    if not isinstance(result, dict) or not isinstance(result.get("batchItemFailures", []), list):
        return []  # an answer Lambda cannot read counts as a failed batch
    failed = {str(item.get("itemIdentifier")) for item in result.get("batchItemFailures", []) if isinstance(item, dict)}
    return [record for record in records if record["messageId"] not in failed]


class SqsPoller(Background):
    def __init__(
        self,
        runner: Runner,
        function: str,
        *,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        properties: dict[str, Any],
    ) -> None:
        super().__init__(f"sqs-{function}", retry=2)
        self._runner = runner
        self._function = function
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._batch_size = int(properties.get("BatchSize", 10))
        self._window = float(properties.get("MaximumBatchingWindowInSeconds", 0))
        self._report_failures = "ReportBatchItemFailures" in properties.get("FunctionResponseTypes", [])
        self._enabled = bool(properties.get("Enabled", True))

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        window_ends = time.monotonic() + self._window
        while len(messages) < self._batch_size and not self._stopping.is_set():
            answer = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(MAX_RECEIVE, self._batch_size - len(messages)),
                WaitTimeSeconds=1,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages.extend(answer.get("Messages", []))
            if not messages or time.monotonic() >= window_ends:
                break
        return messages

    def poll_once(self) -> int:
        messages = self._receive()
        if not messages:
            return 0
        records = [sqs_record(message, self._queue_arn) for message in messages]
        outcome = self._runner.invoke(self._function, {"Records": records})
        done = [] if outcome.failed else items_to_delete(records, outcome.result(), self._report_failures)
        for start in range(0, len(done), MAX_RECEIVE):
            chunk = done[start : start + MAX_RECEIVE]
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": record["receiptHandle"]} for n, record in enumerate(chunk)],
            )
        return len(records)

    def step(self) -> None:
        try:
            self.poll_once()
        except self._sqs.exceptions.QueueDoesNotExist:
            # The stack's deletion took the queue, and with it the event source mapping.
            log.info("%s is gone; %s no longer polls it", self._queue_url, self._function)
            self.stop()

    def failure(self) -> str:
        return f"polling {self._queue_url} for {self._function} failed; retrying"  # as Lambda's poller outlives it

    def run(self) -> None:
        if self._enabled:
            super().run()


RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int:
    """Seconds between two runs of an EventBridge ``rate(...)`` expression."""
    match = RATE.fullmatch(expression.strip())
    if match is None:
        raise ValueError(f"{expression!r} is not a rate expression such as rate(1 hour); cron does not run locally")
    value, unit = int(match.group(1)), match.group(2).rstrip("s")
    if value < 1 or (value == 1) != (match.group(2) == unit):
        raise ValueError(f"{expression!r}: EventBridge wants rate(1 {unit}) or rate(N {unit}s) with N > 1")
    return value * UNIT_SECONDS[unit]


def scheduled_event(rule_arn: str) -> dict[str, Any]:
    """What EventBridge sends a scheduled rule's target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [rule_arn],
        "detail": {},
    }


class Schedule(Background):
    def __init__(self, runner: Runner, function: str, *, rule_arn: str, seconds: float) -> None:
        super().__init__(f"schedule-{function}", every=seconds)
        self._runner = runner
        self._function = function
        self._rule_arn = rule_arn

    def step(self) -> None:
        self._runner.invoke_async(self._function, scheduled_event(self._rule_arn))
