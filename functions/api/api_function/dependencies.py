"""What the API function builds on first use, then keeps: settings, adapters, idempotency, the CORS policy.

Each builder is a ``@dependency`` (``sentiment_common.dependencies``): nothing here reads the
environment at import, so the API's modules import without one (the OpenAPI generator, tests). The
first request reads the settings: a missing variable fails that request, and the error names it
(``comments_table``: Field required). Building all of it costs well under a millisecond; the clients it
holds connect later still, on their first call. Tests call ``sentiment_common.dependencies.reset()``.
"""

from __future__ import annotations

from datetime import timedelta

from aws_lambda_powertools.event_handler import CORSConfig
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

from api_function.cors import cors_policy
from api_function.logic.jobs import JobServices
from api_function.services import Services
from sentiment_common.dal.job_workflow import S3JobLinks, StepFunctionsJobWorkflow
from sentiment_common.dal.jobs import DynamoDbJobs
from sentiment_common.dependencies import dependency
from sentiment_common.settings import ApiSettings, JobsApiSettings


@dependency
def settings() -> ApiSettings:
    return ApiSettings.from_environment()


@dependency
def services() -> Services:
    return Services.from_settings(settings())


@dependency
def job_services() -> JobServices:
    """The jobs routes': read on their first request, so the other routes run without the jobs' variables."""
    jobs = JobsApiSettings.from_environment()
    return JobServices(
        jobs=DynamoDbJobs(jobs.jobs_table),
        workflow=StepFunctionsJobWorkflow(jobs.job_state_machine_arn),
        links=S3JobLinks(jobs.data_bucket),
        bucket=jobs.data_bucket,
        upload_expiry=timedelta(minutes=jobs.job_upload_expiry_minutes),
        download_expiry_seconds=jobs.job_download_expiry_seconds,
    )


@dependency
def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        expires_after_seconds=settings().idempotency_ttl_seconds,
    )


@dependency
def idempotency_store() -> DynamoDBPersistenceLayer:
    """Made on the first request that carries an Idempotency-Key (it creates a DynamoDB client)."""
    return DynamoDBPersistenceLayer(table_name=settings().idempotency_table)


@dependency
def cors() -> CORSConfig:
    return cors_policy(settings().allowed_origin)
