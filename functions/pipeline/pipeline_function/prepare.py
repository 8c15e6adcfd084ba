"""State machine step PrepareDataset."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.adapters.store import DataStore
from pipeline_function.logic.prepare import prepare
from pipeline_function.origin import log_run_origin
from pipeline_function.steps import PrepareInput
from sentiment_common.dal.registry import Registry
from sentiment_common.observability import logger, metrics, tracer
from sentiment_common.settings import RegistrySettings

settings = RegistrySettings.from_environment()
registry = Registry(settings.registry_table)
store = DataStore(settings.data_bucket)


@logger.inject_lambda_context(correlation_id_path="run_id", clear_state=True)
@log_run_origin
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return prepare(PrepareInput.model_validate(event), registry, store).model_dump(mode="json")
