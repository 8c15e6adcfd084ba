"""The adapters the logic uses, built once per cold start from the function's settings."""

from __future__ import annotations

from dataclasses import dataclass

from sentiment_common.dal.comments import DynamoDbCommentStore
from sentiment_common.dal.datasets import DynamoDbDatasets, S3DatasetFiles
from sentiment_common.dal.feedback import S3FeedbackArchive
from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_common.dal.monitoring import DynamoDbMonitoringCounters
from sentiment_common.dal.pending import SqsRetryQueue
from sentiment_common.dal.pipeline_state import DynamoDbPipelineStateStore
from sentiment_common.dal.reviewers import DynamoDbReviewers
from sentiment_common.dal.run_ledger import DynamoDbRunLedger
from sentiment_common.dal.workflow import StepFunctionsRetrainWorkflow
from sentiment_common.inference import ModelClient, ProbedModel, model_client
from sentiment_common.ports import (
    CommentStore,
    DatasetFiles,
    Datasets,
    FeedbackArchive,
    ModelRegistry,
    MonitoringCounters,
    PipelineStateStore,
    RetrainWorkflow,
    RetryQueue,
    Reviewers,
    RunLedger,
)
from sentiment_common.records import PublicLabels
from sentiment_common.settings import ApiSettings


@dataclass(frozen=True)
class Services:
    comments: CommentStore
    monitoring: MonitoringCounters
    feedback: FeedbackArchive
    pending: RetryQueue
    model: ModelClient
    backend: str
    models: ModelRegistry
    runs: RunLedger
    pipeline: PipelineStateStore
    workflow: RetrainWorkflow
    public_labels: PublicLabels  # what a public label does
    reviewers: Reviewers
    datasets: Datasets
    dataset_files: DatasetFiles

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> Services:
        return cls(
            comments=DynamoDbCommentStore(settings.comments_table, settings.comment_retention_days),
            monitoring=DynamoDbMonitoringCounters(settings.monitoring_table),
            feedback=S3FeedbackArchive(settings.data_bucket),
            pending=SqsRetryQueue(settings.pending_queue_url),
            model=ProbedModel(model_client(settings), settings.model_probe_seconds),
            backend=settings.inference_backend.value,
            models=DynamoDbModelRegistry(settings.registry_table),
            runs=DynamoDbRunLedger(settings.registry_table),
            pipeline=DynamoDbPipelineStateStore(settings.registry_table),
            workflow=StepFunctionsRetrainWorkflow(settings.state_machine_arn),
            public_labels=settings.public_labels,
            reviewers=DynamoDbReviewers(settings.registry_table),
            datasets=DynamoDbDatasets(settings.registry_table),
            dataset_files=S3DatasetFiles(settings.data_bucket),
        )
