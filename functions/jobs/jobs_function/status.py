"""EventBridge "Step Functions Execution Status Change" (FAILED, TIMED_OUT, ABORTED) → the job's status,
and its results so far."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobs_function.dependencies import files, jobs
from jobs_function.logic.status import on_execution_end
from sentiment_common.observability import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path="detail.name", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    status = on_execution_end(event.get("detail", {}), jobs(), files())
    return {"status": status.value if status else None}
