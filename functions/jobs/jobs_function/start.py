"""The S3 notification for ``jobs/{job_id}/input`` → start the job's execution, once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from jobs_function.dependencies import jobs, settings, workflow
from jobs_function.logic.start import on_upload
from jobs_function.settings import StartSettings
from sentiment_common.observability import logger, metrics, tracer
from sentiment_common.records import utc_now


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = on_upload(event, settings(StartSettings).data_bucket, jobs(), workflow(), utc_now())
    return report.__dict__
