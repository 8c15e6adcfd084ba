"""The adapters the logic uses, built once per cold start from the function's settings."""

from __future__ import annotations

from dataclasses import dataclass

from sentiment_common.dal.comments import CommentsRepository
from sentiment_common.dal.feedback import FeedbackStore
from sentiment_common.dal.model_registry import ModelRegistry
from sentiment_common.dal.monitoring import MonitoringStore
from sentiment_common.dal.pending import PendingQueue
from sentiment_common.dal.pipeline_state import PipelineStateStore
from sentiment_common.dal.reviewers import DynamoDbReviewers
from sentiment_common.dal.run_ledger import RunLedger
from sentiment_common.dal.workflow import Workflow
from sentiment_common.inference import ModelClient, ProbedModel, model_client
from sentiment_common.models import PublicLabels
from sentiment_common.ports import (
    CommentStore,
    FeedbackArchive,
    ModelRegistryPort,
    MonitoringCounters,
    PipelineStatePort,
    RetrainWorkflow,
    RetryQueue,
    Reviewers,
    RunLedgerPort,
)
from sentiment_common.settings import ApiSettings


@dataclass(frozen=True)
class Services:
    comments: CommentStore
    monitoring: MonitoringCounters
    feedback: FeedbackArchive
    pending: RetryQueue
    model: ModelClient
    backend: str
    models: ModelRegistryPort
    runs: RunLedgerPort
    pipeline: PipelineStatePort
    workflow: RetrainWorkflow
    public_labels: PublicLabels  # what a public label does
    reviewers: Reviewers

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> Services:
        return cls(
            comments=CommentsRepository(settings.comments_table, settings.comment_retention_days),
            monitoring=MonitoringStore(settings.monitoring_table),
            feedback=FeedbackStore(settings.data_bucket),
            pending=PendingQueue(settings.pending_queue_url),
            model=ProbedModel(model_client(settings), settings.model_probe_seconds),
            backend=settings.inference_backend.value,
            models=ModelRegistry(settings.registry_table),
            runs=RunLedger(settings.registry_table),
            pipeline=PipelineStateStore(settings.registry_table),
            workflow=Workflow(settings.state_machine_arn),
            public_labels=settings.public_labels,
            reviewers=DynamoDbReviewers(settings.registry_table),
        )
