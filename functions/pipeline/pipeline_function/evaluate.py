"""State machine step EvaluateCandidate."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.dependencies import settings, stores
from pipeline_function.logic.evaluate import TouchLimits, evaluate
from pipeline_function.origin import run_step
from pipeline_function.settings import EvaluateSettings
from pipeline_function.steps import EvaluateInput


@run_step()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    gate, built = settings(EvaluateSettings), stores()
    evaluation = evaluate(
        EvaluateInput.model_validate(event),
        built.models,
        built.runs,
        built.data,
        tolerance=gate.promotion_tolerance,
        floor=gate.promotion_floor,
        touch=TouchLimits(gate.promotion_max_neighbour_flips, gate.promotion_max_touched_flips),
    )
    return evaluation.model_dump(mode="json")
