"""Classify step ClassifyBatch, run by each child of the Distributed Map: one batch, one model call."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobs_function.dependencies import model
from jobs_function.logic.classify import classify_batch
from jobs_function.step import job_step
from jobs_function.steps import Batch


@job_step(correlation_id_path="BatchInput.job_id")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return classify_batch(Batch.model_validate(event), model()).model_dump(mode="json")
