"""SQS worker for the pending queue: each message names a comment stored while the model did not answer
(starting after idle, or down).

Failed records are reported one by one (``ReportBatchItemFailures``); SQS retries them and, after
``maxReceiveCount`` tries, parks them in the dead-letter queue. The comment itself stays stored.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from pending_function.dependencies import worker
from pending_function.logic import BatchModel, classify_pending
from sentiment_common.dal.pending import parse_message
from sentiment_common.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def record_handler(record: SQSRecord, model: BatchModel) -> None:
    logger.set_correlation_id(record.message_id)  # until the body names the comment: no id of another record
    comment_id = parse_message(record.body).comment_id
    # The comment's id follows this record into the model container's logs (and every line logged here).
    logger.set_correlation_id(comment_id)
    built = worker()
    classify_pending(comment_id, built.comments, model, built.monitoring)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    built = worker()
    # One per invocation: once the model has not answered a record, the batch's others wait no more.
    model = BatchModel(built.model, built.longest_call, lambda: context.get_remaining_time_in_millis() / 1000)
    return process_partial_response(
        event=event,
        record_handler=lambda record: record_handler(record, model),
        processor=processor,
        context=context,
    )
