"""The S3 notification for ``feedback/`` objects → count them → maybe start a retraining run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.adapters.store import DataStore
from pipeline_function.logic.trigger import on_feedback
from pipeline_function.settings import TriggerSettings
from sentiment_common.dal.registry import Registry
from sentiment_common.dal.workflow import Workflow
from sentiment_common.observability import logger, metrics, tracer

settings = TriggerSettings.from_environment()
registry = Registry(settings.registry_table)
store = DataStore(settings.data_bucket)
workflow = Workflow(settings.state_machine_arn)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = on_feedback(event, registry, store, workflow, threshold=settings.retrain_threshold, guard=settings.guard)
    return report.__dict__
