"""What every classify step's handler wears: the job as the log's correlation id, the trace, the metrics."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sentiment_common.observability import logger, metrics, tracer

StepHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def job_step(correlation_id_path: str = "job_id") -> Callable[[StepHandler], StepHandler]:
    def wrap(handler: StepHandler) -> StepHandler:
        @logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)
        @tracer.capture_lambda_handler
        @metrics.log_metrics
        @functools.wraps(handler)
        def step(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            return handler(event, context)

        return step

    return wrap
