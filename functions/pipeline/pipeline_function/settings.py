"""Each step's configuration, read once from the environment the template gives it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field

from sentiment_common.runs import RunGuard
from sentiment_common.settings import (
    EnvironmentSettings,
    InferenceSettings,
    RegistrySettings,
    TrustSettings,
    WorkflowSettings,
)


class CompactionSettings(EnvironmentSettings):
    """The scheduled compactor's: it touches nothing but the data bucket."""

    data_bucket: Annotated[str, Field(min_length=1, description="Bucket holding feedback/ and feedback-compacted/")]


class TriggerSettings(RegistrySettings, WorkflowSettings, TrustSettings):
    retrain_threshold: Annotated[int, Field(ge=1, description="New feedback items that start a run")] = 10
    retrain_min_interval_minutes: Annotated[
        int, Field(ge=0, description="Minutes between the starts of two runs from feedback")
    ] = 60
    retrain_max_per_day: Annotated[int, Field(ge=1, description="Runs from feedback in any 24 hours")] = 12

    @property
    def guard(self) -> RunGuard:
        return RunGuard(timedelta(minutes=self.retrain_min_interval_minutes), self.retrain_max_per_day)


class PrepareSettings(RegistrySettings, TrustSettings):
    """PrepareDataset: the labels it keeps follow the same policy the trigger counted by."""


class EvaluateSettings(RegistrySettings):
    promotion_tolerance: Annotated[
        float, Field(ge=0, le=1, description="How much worse than the champion a candidate may be")
    ] = 0.01
    promotion_floor: Annotated[
        float, Field(ge=0, le=1, description="The lowest golden metric a candidate may have")
    ] = 0.70
    promotion_max_neighbour_flips: Annotated[
        float,
        Field(
            ge=0,
            le=1,
            description="The share of the new labels' nearest labelled texts, answered as people did by the "
            "champion, that a candidate may answer otherwise before it is held for a person",
        ),
    ] = 0.05
    promotion_max_touched_flips: Annotated[
        float,
        Field(
            ge=0,
            le=1,
            description="The share of the texts the new labels are about, answered by the champion as people "
            "answered their nearest labelled texts, that a candidate may answer otherwise before it is held",
        ),
    ] = 0.5


class DeploySettings(RegistrySettings, InferenceSettings):
    model_image_uri: Annotated[str, Field(description="The model image; empty until one is pushed")] = ""
    sagemaker_role_arn: Annotated[str, Field(description="The role SageMaker models run with")] = ""
    sagemaker_network_isolation: Annotated[
        bool, Field(description="Whether new models run isolated; serverless endpoints do not support it")
    ] = True
    deploy_poll_seconds: Annotated[int, Field(ge=1, description="Seconds between deployment checks")] = 30
    deploy_timeout_seconds: Annotated[int, Field(ge=60, description="How long a deployment may take")] = 1800
