"""Scheduled (EventBridge, MonitoringSchedule): the champion's drift and the review queue, as metrics."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.dependencies import monitoring_stores
from pipeline_function.logic.monitor import measure
from sentiment_common.observability import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return measure(*monitoring_stores())
