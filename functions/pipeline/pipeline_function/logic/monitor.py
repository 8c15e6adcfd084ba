"""The champion's drift and the review queue's size, as metrics the alarms and the dashboard watch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from sentiment_common.models import utc_now
from sentiment_common.monitoring import DRIFT_WINDOW_DAYS, champion_drift
from sentiment_common.observability import logger, metrics
from sentiment_common.ports import ModelRegistry, MonitoringCounters


def measure(models: ModelRegistry, store: MonitoringCounters) -> dict[str, Any]:
    today = utc_now().date()
    figure = champion_drift(models, store.days(today - timedelta(days=DRIFT_WINDOW_DAYS - 1), today))
    queue = store.queue_size()
    metrics.add_metric(name="ReviewQueue", unit=MetricUnit.Count, value=queue)
    if figure is not None and figure.psi is not None:
        metrics.add_metric(name="PredictionDrift", unit=MetricUnit.NoUnit, value=figure.psi)
    elif figure is not None:
        logger.info("no drift figure", extra={"reason": figure.reason, "model_version": figure.model_version})
    return {"review_queue": queue, "drift": figure.model_dump(mode="json") if figure else None}
