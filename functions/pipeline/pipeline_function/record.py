"""State machine step RecordRun."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.dependencies import stores
from pipeline_function.logic.record import record
from pipeline_function.origin import run_step
from pipeline_function.steps import RecordInput


@run_step()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = stores()
    return record(RecordInput.model_validate(event), built.models, built.runs, built.data)
