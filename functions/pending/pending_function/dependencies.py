"""What the pending worker builds on its first invocation, then keeps (``sentiment_common.dependencies``):
a missing variable fails that invocation (SQS returns its records), and the error names the variable."""

from __future__ import annotations

from dataclasses import dataclass

from sentiment_common.dal.comments import DynamoDbCommentStore
from sentiment_common.dal.monitoring import DynamoDbMonitoringCounters
from sentiment_common.dependencies import dependency
from sentiment_common.inference import ModelClient, call_timeouts, model_client
from sentiment_common.ports import CommentStore, MonitoringCounters
from sentiment_common.settings import PendingSettings


@dataclass
class Worker:
    comments: CommentStore
    model: ModelClient
    monitoring: MonitoringCounters
    longest_call: float  # seconds one model call may take, every try timing out


@dependency
def worker() -> Worker:
    settings = PendingSettings.from_environment()
    return Worker(
        comments=DynamoDbCommentStore(settings.comments_table),
        model=model_client(settings),
        monitoring=DynamoDbMonitoringCounters(settings.monitoring_table),
        longest_call=call_timeouts(settings).longest_wait,
    )
