"""Each job step's configuration, read once from the environment the template gives it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from sentiment_common.settings import EnvironmentSettings, InferenceSettings


class JobFilesSettings(EnvironmentSettings):
    """What every step reads and writes: the jobs table and the data bucket."""

    jobs_table: Annotated[str, Field(min_length=1, description="DynamoDB table of bulk classification jobs")]
    data_bucket: Annotated[str, Field(min_length=1, description="Bucket holding jobs/{job_id}/ files")]


class StartSettings(JobFilesSettings):
    """The upload's listener: it starts the classify state machine."""

    job_state_machine_arn: Annotated[str, Field(min_length=1, description="The classify state machine")]


class ClassifySettings(InferenceSettings):
    """The map's batch classifier: the model, nothing else."""


class MergeSettings(JobFilesSettings):
    """The merge step, which may store classified rows as comments (a job's ``store: true``)."""

    comments_table: Annotated[str, Field(min_length=1, description="DynamoDB table of comments")]
    comment_retention_days: Annotated[int, Field(ge=0, description="Days a comment is kept; 0 keeps it")] = 0
    job_store_limit: Annotated[
        int, Field(ge=0, description="Rows of one job stored as comments at most (the first ones, in input order)")
    ] = 1000
