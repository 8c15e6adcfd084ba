"""Scheduled (EventBridge, MonitoringSchedule): the champion's drift and the review queue, as metrics."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.logic.monitor import measure
from sentiment_common.dal.monitoring import MonitoringStore
from sentiment_common.dal.registry import Registry
from sentiment_common.observability import logger, metrics, tracer
from sentiment_common.settings import MonitorSettings

settings = MonitorSettings.from_environment()
registry = Registry(settings.registry_table)
store = MonitoringStore(settings.monitoring_table)


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return measure(registry, store)
