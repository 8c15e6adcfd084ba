"""State machine steps DeployModel (``start_handler``) and CheckDeployment (``check_handler``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.dependencies import endpoint, served_model, settings, stores
from pipeline_function.logic.rollout import check, start
from pipeline_function.origin import run_step
from pipeline_function.settings import DeploySettings
from pipeline_function.steps import CheckInput, DeployInput


@run_step()
def start_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = stores()
    deployment = start(
        DeployInput.model_validate(event),
        built.models,
        built.runs,
        built.data,
        endpoint=endpoint(),
        settings=settings(DeploySettings),
    )
    return deployment.model_dump(mode="json")


@run_step(correlation_id_path="deployment.run_id")
def check_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deployment = CheckInput.model_validate(event).deployment
    return check(deployment, endpoint(), served_model()).model_dump(mode="json")
