from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from api_function.dependencies import services
from api_function.logic.health import model_health
from api_function.schemas import HealthResponse, ServingModel

router = Router()


@router.get("/health", summary="The API is up; is the model ready, starting or down, and which version answers")
def health() -> HealthResponse:
    model, record = model_health(services())
    kind = {"kind": record.kind, "encoder": record.encoder} if record else {}
    return HealthResponse(
        status="ok" if model.reachable else "degraded",
        model=ServingModel(
            backend=services().backend,
            status=model.status,
            reachable=model.reachable,
            model_version=model.model_version,
            reason=model.reason,
            checked_at=model.checked_at,
            **kind,
        ),
    )
