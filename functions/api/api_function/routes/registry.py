"""The model registry's routes: every registered version, one version, and promotion by hand (admin)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from api_function.dependencies import services
from api_function.logic import registry
from api_function.routes import admin_only, answers, documented
from api_function.routes.training import RUN_ERRORS, started
from api_function.schemas import ModelList, ModelOut, RunStarted

router = Router()

Version = Annotated[str, Path(min_length=1, max_length=128, description="A registered model version")]
NOT_FOUND: dict[int, OpenAPIResponse] = {404: documented("No such model")}


@router.get("/models", summary="The model registry: every version, its metrics and data, which one is champion")
def list_models() -> ModelList:
    champion, records = registry.list_models(services())
    return ModelList(champion=champion, items=[ModelOut.of(record) for record in records])


@router.get(
    "/models/<version>", summary="One registered model", responses={**answers(200, "The model", ModelOut), **NOT_FOUND}
)
def get_model(version: Version) -> ModelOut:
    return ModelOut.of(registry.get_model(version, services()))


@admin_only(
    router.post,
    "/models/<version>/promote",
    "Make a registered version champion (rollback); admin",
    {**answers(202, "Deployment started", RunStarted), **NOT_FOUND, **RUN_ERRORS},
)
def promote_model(version: Version) -> Response[str]:
    run = registry.promote(version, services())
    return started(RunStarted(run_id=run.run_id, status=run.status, trigger=run.trigger, version=version))
