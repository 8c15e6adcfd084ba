"""The S3 notification for ``datasets/<name>/upload`` → validate the file → keep its accepted rows."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline_function.dependencies import dataset_stores, stores
from pipeline_function.logic.datasets import on_upload
from sentiment_common.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    datasets, files = dataset_stores()
    report = on_upload(event, datasets, stores().data, files)
    return report.__dict__
