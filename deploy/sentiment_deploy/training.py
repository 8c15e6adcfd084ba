"""A training job launched by hand, with the SageMaker Python SDK: the project's image, the stack's
training role, its data and the embedding cache, as a retraining run's job has them (the state
machine's ``TrainCandidate``), without a run around it. What it trains lands under ``training-jobs/``
in the data bucket; ``make deploy TRAIN_ON=sagemaker`` registers such a model as the first champion."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sentiment_deploy.bootstrap import CHECKPOINTS_PREFIX, TRAINING_DATA_PREFIX
from sentiment_deploy.stack import DeployedStack, DeployError

JOBS_PREFIX = "training-jobs/"
FEEDBACK_PREFIX = "feedback/"
MAX_RUNTIME_S = 3600  # as a run's job
VOLUME_GB = 10


@dataclass(frozen=True)
class JobRequest:
    name: str
    image: str
    role_arn: str
    bucket: str
    instance_type: str
    hyperparameters: Mapping[str, str]
    with_feedback: bool = True


def job_name(prefix: str = "sentiment-manual") -> str:
    """Unique within the account and region, at most 63 characters, as SageMaker requires."""
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"[:63]


def request_for(
    stack: DeployedStack, *, name: str, hyperparameters: Mapping[str, str], with_feedback: bool
) -> JobRequest:
    image = stack.parameters.get("ModelImageUri", "")
    if not image:
        raise DeployError(f"stack {stack.name!r} has no model image yet (ModelImageUri): run make deploy first")
    return JobRequest(
        name=name,
        image=image,
        role_arn=stack.output("TrainingRoleArn"),
        bucket=stack.output("DataBucketName"),
        instance_type=stack.parameters.get("TrainingInstanceType") or "ml.m5.large",
        hyperparameters=hyperparameters,
        with_feedback=with_feedback,
    )


def without_an_empty_feedback_channel(request: JobRequest, s3: Any) -> JobRequest:
    """The request, without its feedback channel while ``feedback/`` holds no object: SageMaker's
    CreateTrainingJob refuses a channel whose S3 prefix is empty ("No S3 objects found under S3 URL …"),
    and a stack nobody has given feedback yet has none. (A run's job has no such channel: it reads the
    feedback file its run prepared, written even when empty.)"""
    if not request.with_feedback:
        return request
    listed = s3.list_objects_v2(Bucket=request.bucket, Prefix=FEEDBACK_PREFIX, MaxKeys=1)
    if listed.get("KeyCount", 0):
        return request
    print(f"no feedback under s3://{request.bucket}/{FEEDBACK_PREFIX} yet: training on the bundled data only")
    return replace(request, with_feedback=False)


def launch(request: JobRequest, *, session: Any = None, region: str | None = None, wait: bool = True) -> Any:
    """Create the job with the SDK and, with ``wait``, follow it to the end (``FailedStatusError`` on failure)."""
    from sagemaker.core.resources import TrainingJob  # noqa: PLC0415 - the SDK loads slowly
    from sagemaker.core.shapes import (  # noqa: PLC0415
        AlgorithmSpecification,
        Channel,
        CheckpointConfig,
        DataSource,
        OutputDataConfig,
        ResourceConfig,
        S3DataSource,
        StoppingCondition,
    )

    def channel(name: str, prefix: str) -> Any:
        source = S3DataSource(
            s3_data_type="S3Prefix",
            s3_uri=f"s3://{request.bucket}/{prefix}",
            s3_data_distribution_type="FullyReplicated",
        )
        return Channel(channel_name=name, data_source=DataSource(s3_data_source=source))

    channels = [channel("train", TRAINING_DATA_PREFIX)]
    if request.with_feedback:
        channels.append(channel("feedback", FEEDBACK_PREFIX))
    print(f"starting training job {request.name} ({request.instance_type}, {request.image})", flush=True)
    job = TrainingJob.create(
        training_job_name=request.name,
        role_arn=request.role_arn,
        algorithm_specification=AlgorithmSpecification(training_image=request.image, training_input_mode="File"),
        hyper_parameters=dict(request.hyperparameters),
        input_data_config=channels,
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{request.bucket}/{JOBS_PREFIX}"),
        checkpoint_config=CheckpointConfig(s3_uri=f"s3://{request.bucket}/{CHECKPOINTS_PREFIX}"),
        resource_config=ResourceConfig(
            instance_count=1, instance_type=request.instance_type, volume_size_in_gb=VOLUME_GB
        ),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=MAX_RUNTIME_S),
        tags=[{"key": "launched_by", "value": "sentiment-deploy"}],
        session=session,
        region=region,
    )
    if wait:
        job.wait(poll=10)
        print(f"training job {request.name}: {job.training_job_status}; model at {artifact_of(job)}", flush=True)
    return job


def artifact_of(job: Any) -> str:
    return str(job.model_artifacts.s3_model_artifacts)


def describe(name: str, *, session: Any = None, region: str | None = None) -> Any:
    """What SageMaker knows of a job (status, times, artifact, failure reason), through the SDK."""
    from sagemaker.core.resources import TrainingJob  # noqa: PLC0415

    return TrainingJob.get(training_job_name=name, session=session, region=region)
