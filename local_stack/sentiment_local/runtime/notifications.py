"""What the template's SNS topics publish, where a developer sees it: no e-mail leaves this machine.

A local SQS queue is subscribed to every topic; a poller appends each message to a log file as one
JSON line (``time``, ``topic``, ``subject``, ``message``) and prints a one-line summary.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sentiment_local.runtime.background import Background

log = logging.getLogger(__name__)


def subscribe_queue(sns: Any, sqs: Any, queue_name: str, topic_arns: list[str]) -> str:
    """A queue subscribed to every topic; returns its URL."""
    url = str(sqs.create_queue(QueueName=queue_name)["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for topic_arn in topic_arns:
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return url


def summary(entry: dict[str, Any]) -> str:
    """One line: the topic, then the subject, or the message's first line when there is no subject."""
    text = entry["subject"] or (entry["message"].splitlines() or [""])[0]
    return f"Notification from {entry['topic']}: {text[:200]}"


def log_entry(body: str) -> dict[str, Any]:
    """The SNS envelope SQS delivers, as the log's JSON line."""
    envelope = json.loads(body)
    return {
        "time": envelope.get("Timestamp"),
        "topic": str(envelope.get("TopicArn", "")).rsplit(":", 1)[-1],
        "subject": envelope.get("Subject"),
        "message": envelope.get("Message", ""),
    }


class NotificationLog(Background):
    def __init__(self, sqs: Any, queue_url: str, path: Path) -> None:
        super().__init__("notifications", retry=2)
        self._sqs = sqs
        self._queue_url = queue_url
        self.path = path

    def poll_once(self) -> int:
        answer = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = answer.get("Messages", [])
        for message in messages:
            try:
                entry = log_entry(message["Body"])
            except (json.JSONDecodeError, AttributeError):
                entry = {"time": None, "topic": "", "subject": None, "message": message["Body"]}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")
            print(summary(entry), flush=True)
            self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def step(self) -> None:
        self.poll_once()

    def failure(self) -> str:
        return "reading the notifications queue failed; retrying"  # the log outlives any one failure
