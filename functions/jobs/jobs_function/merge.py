"""Classify step MergeResults: one results file, every row once, in input order."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobs_function.dependencies import comments, files, jobs, settings
from jobs_function.logic.merge import merge
from jobs_function.settings import MergeSettings
from jobs_function.step import job_step
from jobs_function.steps import MergeInput


@job_step(correlation_id_path="checked.job_id")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    given = MergeInput.model_validate(event)
    merged = merge(
        given.checked.job_id, files(), jobs(), comments=comments(), store_limit=settings(MergeSettings).job_store_limit
    )
    return merged.model_dump(mode="json")
