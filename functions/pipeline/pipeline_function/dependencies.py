"""What the pipeline's handlers are built from: settings, stores and clients, each a ``@dependency`` built on
first use from the function's environment (not at import, so a test sets the environment first) and kept
for the warm container. Tests call ``sentiment_common.dependencies.reset()`` to forget them all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, cast

from pipeline_function.adapters.s3 import S3DataStore
from pipeline_function.adapters.sagemaker import SageMakerModelEndpoint
from pipeline_function.ports import DataStore, ModelEndpoint
from pipeline_function.settings import CompactionSettings, DeploySettings, TriggerSettings
from sentiment_common.dal.datasets import DynamoDbDatasets, S3DatasetFiles
from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_common.dal.monitoring import DynamoDbMonitoringCounters
from sentiment_common.dal.pipeline_state import DynamoDbPipelineStateStore
from sentiment_common.dal.reviewers import DynamoDbReviewers
from sentiment_common.dal.run_ledger import DynamoDbRunLedger
from sentiment_common.dal.workflow import StepFunctionsRetrainWorkflow
from sentiment_common.dependencies import dependency
from sentiment_common.inference import ModelClient, model_client
from sentiment_common.ports import (
    DatasetFiles,
    Datasets,
    ModelRegistry,
    MonitoringCounters,
    PipelineStateStore,
    RetrainWorkflow,
    RunLedger,
    WithdrawnReviewers,
)
from sentiment_common.settings import EnvironmentSettings, InferenceBackend, MonitorSettings, RegistrySettings

Settings = TypeVar("Settings", bound=EnvironmentSettings)


@dataclass(frozen=True)
class Stores:
    models: ModelRegistry
    runs: RunLedger
    pipeline: PipelineStateStore
    data: DataStore


def settings(kind: type[Settings]) -> Settings:
    """The function's settings of that kind, read once."""
    return cast(Settings, _settings(kind))


@dependency
def _settings(kind: type[EnvironmentSettings]) -> EnvironmentSettings:
    return kind.from_environment()


@dependency
def stores() -> Stores:
    """The registry's three stores and the data bucket, which every step but the monitor uses."""
    names = settings(RegistrySettings)
    return Stores(
        models=DynamoDbModelRegistry(names.registry_table),
        runs=DynamoDbRunLedger(names.registry_table),
        pipeline=DynamoDbPipelineStateStore(names.registry_table),
        data=S3DataStore(names.data_bucket),
    )


@dependency
def endpoint() -> ModelEndpoint | None:
    """The SageMaker endpoint a deployment updates; None on ECS or before one is deployed."""
    deploy = settings(DeploySettings)
    if deploy.inference_backend is InferenceBackend.SAGEMAKER and deploy.sagemaker_endpoint_name:
        return SageMakerModelEndpoint(deploy.sagemaker_endpoint_name)
    return None


@dependency
def served_model() -> ModelClient:
    return model_client(settings(DeploySettings))


@dependency
def workflow() -> RetrainWorkflow:
    """The retraining state machine, which the trigger starts."""
    return StepFunctionsRetrainWorkflow(settings(TriggerSettings).state_machine_arn)


@dependency
def withdrawals() -> WithdrawnReviewers:
    """Whose labels a run no longer trains on: the reviewers an admin withdrew, kept in the registry table."""
    return DynamoDbReviewers(settings(RegistrySettings).registry_table)


@dependency
def dataset_stores() -> tuple[Datasets, DatasetFiles]:
    """The datasets' records (in the registry table) and their files: the import's, and prepare's records."""
    names = settings(RegistrySettings)
    return DynamoDbDatasets(names.registry_table), S3DatasetFiles(names.data_bucket)


@dependency
def monitoring_stores() -> tuple[ModelRegistry, MonitoringCounters]:
    """The monitor's: the champion's registry and the counters."""
    tables = settings(MonitorSettings)
    return DynamoDbModelRegistry(tables.registry_table), DynamoDbMonitoringCounters(tables.monitoring_table)


@dependency
def feedback_bucket() -> DataStore:
    """The compactor's: the data bucket alone."""
    return S3DataStore(settings(CompactionSettings).data_bucket)
