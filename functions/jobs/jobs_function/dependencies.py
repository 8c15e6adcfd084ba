"""What the job steps are built from: settings, stores and clients, each a ``@dependency`` built on first
use from the function's environment and kept for the warm container. Tests call
``sentiment_common.dependencies.reset()`` to forget them all."""

from __future__ import annotations

from typing import TypeVar, cast

from jobs_function.adapters.s3 import S3JobFiles
from jobs_function.ports import JobFiles
from jobs_function.settings import ClassifySettings, JobFilesSettings, MergeSettings, StartSettings
from sentiment_common.dal.comments import DynamoDbCommentStore
from sentiment_common.dal.job_workflow import StepFunctionsJobWorkflow
from sentiment_common.dal.jobs import DynamoDbJobs
from sentiment_common.dependencies import dependency
from sentiment_common.inference import ModelClient, model_client
from sentiment_common.ports import CommentStore, Jobs, JobWorkflow
from sentiment_common.settings import EnvironmentSettings

Settings = TypeVar("Settings", bound=EnvironmentSettings)


def settings(kind: type[Settings]) -> Settings:
    """The function's settings of that kind, read once."""
    return cast(Settings, _settings(kind))


@dependency
def _settings(kind: type[EnvironmentSettings]) -> EnvironmentSettings:
    return kind.from_environment()


@dependency
def jobs() -> Jobs:
    return DynamoDbJobs(settings(JobFilesSettings).jobs_table)


@dependency
def files() -> JobFiles:
    return S3JobFiles(settings(JobFilesSettings).data_bucket)


@dependency
def workflow() -> JobWorkflow:
    return StepFunctionsJobWorkflow(settings(StartSettings).job_state_machine_arn)


@dependency
def model() -> ModelClient:
    return model_client(settings(ClassifySettings))


@dependency
def comments() -> CommentStore:
    merging = settings(MergeSettings)
    return DynamoDbCommentStore(merging.comments_table, merging.comment_retention_days)
