"""State machine step EvaluateCandidate."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.adapters.store import DataStore
from pipeline_function.logic.evaluate import evaluate
from pipeline_function.origin import log_run_origin
from pipeline_function.settings import EvaluateSettings
from pipeline_function.steps import EvaluateInput
from sentiment_common.dal.registry import Registry
from sentiment_common.observability import logger, metrics, tracer

settings = EvaluateSettings.from_environment()
registry = Registry(settings.registry_table)
store = DataStore(settings.data_bucket)


@logger.inject_lambda_context(correlation_id_path="run_id", clear_state=True)
@log_run_origin
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = EvaluateInput.model_validate(event)
    evaluation = evaluate(request, registry, store, settings.promotion_tolerance, settings.promotion_floor)
    return evaluation.model_dump(mode="json")
