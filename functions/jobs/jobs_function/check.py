"""Classify step CheckFile: the upload can be classified; count its rows, list those that are not UTF-8."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobs_function.dependencies import files, jobs
from jobs_function.logic.check import check
from jobs_function.step import job_step
from sentiment_common.jobs import JobInput


@job_step()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return check(JobInput.model_validate(event), files(), jobs()).model_dump(mode="json")
