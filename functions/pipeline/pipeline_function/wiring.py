"""What the pipeline's handlers are built from: settings, stores and clients, made on first use from the
function's environment (not at import, so a test sets the environment first) and kept for the warm
container. :func:`reset` forgets them all, for tests that change the environment."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.adapters.sagemaker import SageMakerEndpoint
from pipeline_function.adapters.store import DataStore
from pipeline_function.origin import log_run_origin
from pipeline_function.settings import CompactionSettings, DeploySettings, TriggerSettings
from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_common.dal.monitoring import DynamoDbMonitoringCounters
from sentiment_common.dal.pipeline_state import DynamoDbPipelineStateStore
from sentiment_common.dal.reviewers import DynamoDbReviewers
from sentiment_common.dal.run_ledger import DynamoDbRunLedger
from sentiment_common.dal.workflow import StepFunctionsRetrainWorkflow
from sentiment_common.inference import ModelClient, model_client
from sentiment_common.observability import logger, metrics, tracer
from sentiment_common.ports import WithdrawnReviewers
from sentiment_common.settings import EnvironmentSettings, InferenceBackend, MonitorSettings, RegistrySettings

Settings = TypeVar("Settings", bound=EnvironmentSettings)
Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def run_step(correlation_id_path: str = "run_id") -> Callable[[Handler], Handler]:
    """A state machine step's Lambda wrappers: the run as the log's correlation id, what started the run,
    the trace, the metrics."""

    def wrap(handler: Handler) -> Handler:
        @logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)
        @log_run_origin
        @tracer.capture_lambda_handler
        @metrics.log_metrics
        @functools.wraps(handler)
        def step(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            return handler(event, context)

        return step

    return wrap


@dataclass(frozen=True)
class Stores:
    models: DynamoDbModelRegistry
    runs: DynamoDbRunLedger
    pipeline: DynamoDbPipelineStateStore
    data: DataStore


def settings(kind: type[Settings]) -> Settings:
    """The function's settings of that kind, read once."""
    return cast(Settings, _settings(kind))


@cache
def _settings(kind: type[EnvironmentSettings]) -> EnvironmentSettings:
    return kind.from_environment()


@cache
def stores() -> Stores:
    """The registry's three stores and the data bucket, which every step but the monitor uses."""
    names = settings(RegistrySettings)
    return Stores(
        models=DynamoDbModelRegistry(names.registry_table),
        runs=DynamoDbRunLedger(names.registry_table),
        pipeline=DynamoDbPipelineStateStore(names.registry_table),
        data=DataStore(names.data_bucket),
    )


@cache
def endpoint() -> SageMakerEndpoint | None:
    """The SageMaker endpoint a deployment updates; None on ECS or before one is deployed."""
    deploy = settings(DeploySettings)
    if deploy.inference_backend is InferenceBackend.SAGEMAKER and deploy.sagemaker_endpoint_name:
        return SageMakerEndpoint(deploy.sagemaker_endpoint_name)
    return None


@cache
def served_model() -> ModelClient:
    return model_client(settings(DeploySettings))


@cache
def workflow() -> StepFunctionsRetrainWorkflow:
    """The retraining state machine, which the trigger starts."""
    return StepFunctionsRetrainWorkflow(settings(TriggerSettings).state_machine_arn)


@cache
def withdrawals() -> WithdrawnReviewers:
    """Whose labels a run no longer trains on: the reviewers an admin withdrew, kept in the registry table."""
    return DynamoDbReviewers(settings(RegistrySettings).registry_table)


@cache
def monitoring_stores() -> tuple[DynamoDbModelRegistry, DynamoDbMonitoringCounters]:
    """The monitor's: the champion's registry and the counters."""
    tables = settings(MonitorSettings)
    return DynamoDbModelRegistry(tables.registry_table), DynamoDbMonitoringCounters(tables.monitoring_table)


@cache
def feedback_bucket() -> DataStore:
    """The compactor's: the data bucket alone."""
    return DataStore(settings(CompactionSettings).data_bucket)


def reset() -> None:
    for built in (_settings, stores, endpoint, served_model, workflow, withdrawals, monitoring_stores, feedback_bucket):
        built.cache_clear()
