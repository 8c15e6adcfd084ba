"""Scheduled (EventBridge, FeedbackCompactionSchedule): each day's feedback objects compacted into a few
parts, so that PrepareDataset reads few objects whatever the number of labels."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.dependencies import feedback_bucket
from pipeline_function.logic.compact import compact
from sentiment_common.observability import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return compact(feedback_bucket()).as_dict()
