from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from api_function.dependencies import services
from api_function.logic import monitoring
from api_function.schemas import MonitoringOut
from sentiment_common.monitoring import SERIES_DAYS

router = Router()


@router.get(
    "/monitoring",
    summary="Live quality from people's labels, per model version and per day, and the champion's drift",
)
def get_monitoring(
    days: Annotated[int, Query(ge=1, le=90, description="Days in the daily series, today included")] = SERIES_DAYS,
) -> MonitoringOut:
    return MonitoringOut.of(monitoring.report(days, services()))
