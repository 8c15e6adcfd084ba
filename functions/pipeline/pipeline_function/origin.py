"""What every state machine step's handler wears (:func:`run_step`): the run as the log's correlation id,
what started the run, the trace, the metrics.

Each step of a run logs what started it, beside the run's own correlation id (``run_id``).

The state machine passes every Lambda step the execution's input as ``request`` (a
:class:`~sentiment_common.registry.RunRequest`); a run started through the API names the API request
that started it (``started_by_request``), so a run can be traced back to the call, and the call to its run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.typing import LambdaContext

from sentiment_common.observability import logger, metrics, tracer

Answer = TypeVar("Answer")
Handler = Callable[[dict[str, Any], LambdaContext], Answer]
StepHandler = Handler[dict[str, Any]]


def run_step(correlation_id_path: str = "run_id") -> Callable[[StepHandler], StepHandler]:
    """A state machine step's Lambda wrappers: the run as the log's correlation id, what started the run,
    the trace, the metrics."""

    def wrap(handler: StepHandler) -> StepHandler:
        @logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)
        @log_run_origin
        @tracer.capture_lambda_handler
        @metrics.log_metrics
        @functools.wraps(handler)
        def step(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            return handler(event, context)

        return step

    return wrap


def log_run_origin(handler: Handler[Answer]) -> Handler[Answer]:
    """Goes under ``logger.inject_lambda_context``, whose ``clear_state`` would drop the key again."""

    @functools.wraps(handler)
    def with_origin(event: dict[str, Any], context: LambdaContext) -> Answer:
        request = event.get("request")
        # Read leniently: a step's own input model says what is wrong with its input; logging never fails it.
        started_by = request.get("started_by_request") if isinstance(request, dict) else None
        logger.append_keys(started_by_request=started_by if isinstance(started_by, str) else None)
        return handler(event, context)

    return with_origin
