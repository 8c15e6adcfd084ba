"""State machine steps DeployModel (``start_handler``) and CheckDeployment (``check_handler``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.adapters.sagemaker import SageMakerEndpoint
from pipeline_function.adapters.store import DataStore
from pipeline_function.logic import deploy
from pipeline_function.origin import log_run_origin
from pipeline_function.settings import DeploySettings
from pipeline_function.steps import CheckInput, DeployInput
from sentiment_common.dal.registry import Registry
from sentiment_common.inference import model_client
from sentiment_common.observability import logger, metrics, tracer
from sentiment_common.settings import InferenceBackend

settings = DeploySettings.from_environment()
registry = Registry(settings.registry_table)
store = DataStore(settings.data_bucket)
endpoint = (
    SageMakerEndpoint(settings.sagemaker_endpoint_name)
    if settings.inference_backend is InferenceBackend.SAGEMAKER and settings.sagemaker_endpoint_name
    else None
)
model = model_client(settings)


@logger.inject_lambda_context(correlation_id_path="run_id", clear_state=True)
@log_run_origin
@tracer.capture_lambda_handler
@metrics.log_metrics
def start_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return deploy.start(DeployInput.model_validate(event), registry, store, endpoint, settings).model_dump(mode="json")


@logger.inject_lambda_context(correlation_id_path="deployment.run_id", clear_state=True)
@log_run_origin
@tracer.capture_lambda_handler
@metrics.log_metrics
def check_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return deploy.check(CheckInput.model_validate(event).deployment, endpoint, model).model_dump(mode="json")
