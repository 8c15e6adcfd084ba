"""State machine step PrepareDataset."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.dependencies import dataset_stores, settings, stores, withdrawals
from pipeline_function.logic.prepare import prepare
from pipeline_function.origin import run_step
from pipeline_function.settings import PrepareSettings
from pipeline_function.steps import PrepareInput


@run_step()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = stores()
    dataset = prepare(
        PrepareInput.model_validate(event),
        built.runs,
        built.models,
        built.data,
        public_labels=settings(PrepareSettings).public_labels,
        withdrawals=withdrawals(),
        datasets=dataset_stores()[0],
    )
    return dataset.model_dump(mode="json")
