"""Configuration, read once from the environment the template gives each function.

A missing variable fails at import time (cold start), or, for the API, which reads its settings on
first use, on its first request; never halfway through one. Each
function composes the settings it needs; none of them reads ``os.environ`` itself.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field

from sentiment_common.records import PublicLabels


class EnvironmentSettings(BaseModel):
    """Settings whose fields come from the environment variables of the same names in upper case.

    Values arrive as strings and pydantic converts them (lax mode), so ``"60"`` becomes ``60``. This is
    what pydantic-settings would do for these flat fields, without its .env, CLI and secrets-file
    sources, whose imports took about 40 ms of every function's cold start.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def from_environment(cls, **given: Any) -> Self:
        """Read every field's variable; keyword arguments win over the environment."""
        found = {name: os.environ[name.upper()] for name in cls.model_fields if name.upper() in os.environ}
        return cls.model_validate(found | given)


class InferenceBackend(StrEnum):
    SAGEMAKER = "sagemaker"
    ECS = "ecs"


class SageMakerEndpointType(StrEnum):
    SERVERLESS = "serverless"  # scales to zero after idle: the next call waits for a cold start
    REALTIME = "realtime"  # keeps its instances warm


class InferenceSettings(EnvironmentSettings):
    inference_backend: Annotated[InferenceBackend, Field(description="Where the model container runs")]
    sagemaker_endpoint_name: Annotated[
        str, Field(description="SageMaker endpoint; empty while no model is deployed")
    ] = ""
    sagemaker_endpoint_type: Annotated[
        SageMakerEndpointType,
        Field(description="The template's SageMakerEndpointType: a serverless one's first call after idle is slow"),
    ] = SageMakerEndpointType.SERVERLESS
    model_url: Annotated[
        str, Field(description="Base URL of the ECS model service; empty while no model is deployed")
    ] = ""
    model_connect_timeout: Annotated[float, Field(gt=0, description="Seconds to open a connection")] = 1.0
    model_read_timeout: Annotated[
        float, Field(gt=0, description="Seconds to wait for an answer from a warm backend (ECS, a real-time endpoint)")
    ] = 4.0
    model_max_attempts: Annotated[
        int, Field(ge=1, le=5, description="Tries per call to a warm backend, the first included")
    ] = 2
    model_wait_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=60,
            description="Seconds one call to a serverless endpoint may wait for its answer, a cold start included "
            "(one try; SageMaker itself gives up after 60 s)",
        ),
    ] = 9.0
    model_health_timeout: Annotated[
        float, Field(gt=0, description="Seconds a health check waits for each answer (one try)")
    ] = 2.0

    @property
    def deployed(self) -> bool:
        target = (
            self.sagemaker_endpoint_name if self.inference_backend is InferenceBackend.SAGEMAKER else self.model_url
        )
        return bool(target)

    @property
    def scales_to_zero(self) -> bool:
        """A serverless endpoint: after idle, its first call waits for an instance to start."""
        return (
            self.inference_backend is InferenceBackend.SAGEMAKER
            and self.sagemaker_endpoint_type is SageMakerEndpointType.SERVERLESS
        )


class StorageSettings(EnvironmentSettings):
    comments_table: Annotated[str, Field(min_length=1, description="DynamoDB table of comments")]
    monitoring_table: Annotated[str, Field(min_length=1, description="DynamoDB table of quality and drift counters")]
    data_bucket: Annotated[str, Field(min_length=1, description="Bucket holding feedback/ and models/")]
    pending_queue_url: Annotated[str, Field(min_length=1, description="Queue of comments waiting for the model")]


class RegistrySettings(EnvironmentSettings):
    registry_table: Annotated[str, Field(min_length=1, description="DynamoDB table of models, runs and counts")]
    data_bucket: Annotated[str, Field(min_length=1, description="Bucket holding data/, feedback/ and models/")]


class MonitorSettings(EnvironmentSettings):
    """The scheduled function that turns the monitoring counters into metrics."""

    registry_table: Annotated[str, Field(min_length=1, description="DynamoDB table of models, runs and counts")]
    monitoring_table: Annotated[str, Field(min_length=1, description="DynamoDB table of quality and drift counters")]


class WorkflowSettings(EnvironmentSettings):
    state_machine_arn: Annotated[str, Field(min_length=1, description="The retraining state machine")]


class TrustSettings(EnvironmentSettings):
    """Whose labels teach the model: the API, the feedback trigger and PrepareDataset apply the same policy."""

    public_labels: Annotated[
        PublicLabels,
        Field(description="The template's PublicLabels: whether public labels train, only suggest, or are ignored"),
    ]


class AdminSettings(EnvironmentSettings):
    admin_api_key_secret: Annotated[str, Field(min_length=1, description="Secrets Manager id of the admin key")]
    admin_key_cache_seconds: Annotated[int, Field(ge=0, description="How long a read of the admin key is reused")] = 60


class ReviewerAuthorizerSettings(AdminSettings):
    """The reviewer routes' authorizer: the admin key (as reviewer "admin") and the reviewers' keys."""

    registry_table: Annotated[str, Field(min_length=1, description="DynamoDB table holding the reviewers' keys")]


class OriginSettings(EnvironmentSettings):
    """The public routes' authorizer: the header CloudFront adds on its way to the API."""

    origin_verify_secret: Annotated[
        str, Field(min_length=1, description="Secrets Manager id of the value CloudFront sends in X-Origin-Verify")
    ]
    origin_secret_cache_seconds: Annotated[int, Field(ge=0, description="How long a read of that value is reused")] = (
        300
    )


class ApiSettings(StorageSettings, InferenceSettings, RegistrySettings, WorkflowSettings, TrustSettings):
    idempotency_table: Annotated[str, Field(min_length=1, description="DynamoDB table for Idempotency-Key records")]
    idempotency_ttl_seconds: Annotated[int, Field(ge=60, description="How long a key's first answer is kept")] = 86400
    allowed_origin: Annotated[str, Field(min_length=1, description="The one origin CORS lets in")] = "*"
    max_body_bytes: Annotated[int, Field(gt=0, description="Larger request bodies get 413")] = 1_048_576
    comment_retention_days: Annotated[
        int, Field(ge=0, description="The template's CommentRetentionDays: days a comment is kept; 0 keeps it forever")
    ]
    model_probe_seconds: Annotated[
        float,
        Field(
            ge=0,
            description="How long GET /health reuses what this container last saw of the model before it "
            "checks again (each check is a DescribeEndpoint and an InvokeEndpoint)",
        ),
    ] = 10.0


class PendingSettings(StorageSettings, InferenceSettings):
    """The worker that classifies comments stored while the model was unreachable."""


class JobsApiSettings(EnvironmentSettings):
    """The API's jobs routes: the jobs table, the classify state machine, the bucket files are uploaded to."""

    jobs_table: Annotated[str, Field(min_length=1, description="DynamoDB table of bulk classification jobs")]
    job_state_machine_arn: Annotated[str, Field(min_length=1, description="The classify state machine")]
    data_bucket: Annotated[str, Field(min_length=1, description="Bucket holding jobs/{job_id}/ files")]
    job_upload_expiry_minutes: Annotated[
        int, Field(ge=1, le=10080, description="Minutes a job's upload URL works (presigned URLs last 7 days at most)")
    ] = 60
    job_download_expiry_seconds: Annotated[
        int, Field(ge=60, le=604800, description="Seconds a results download URL works")
    ] = 3600
