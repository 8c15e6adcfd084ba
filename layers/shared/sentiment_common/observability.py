"""One Logger, Tracer and Metrics for the whole function; every layer imports them from here.

The service name and metrics namespace come from ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_METRICS_NAMESPACE``, set per function in the template.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def count(name: str, **dimensions: str) -> None:
    """Emit one business event. Dimensions apply to this metric alone, not to the rest of the flush."""
    if not dimensions:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        return
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)


@contextmanager
def timed(name: str) -> Iterator[None]:
    """Emit how long the block took, in milliseconds, whether it returned or raised (a timeout is slow too)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=round(elapsed, 3))
