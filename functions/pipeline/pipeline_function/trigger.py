"""The S3 notification for ``feedback/`` objects → count them → maybe start a retraining run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.dependencies import settings, stores, workflow
from pipeline_function.logic.trigger import on_feedback
from pipeline_function.settings import TriggerSettings
from sentiment_common.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    trigger, built = settings(TriggerSettings), stores()
    report = on_feedback(
        event,
        built.pipeline,
        built.runs,
        built.data,
        workflow(),
        threshold=trigger.retrain_threshold,
        guard=trigger.guard,
        public_labels=trigger.public_labels,
    )
    return report.__dict__
