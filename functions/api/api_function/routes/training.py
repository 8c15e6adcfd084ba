from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from api_function.auth import ADMIN_ONLY, require_admin
from api_function.dependencies import services
from api_function.logic import training
from api_function.routes import answers
from api_function.schemas import (
    ErrorResponse,
    GatewayMessage,
    HeldBackOut,
    RunStarted,
    TrainingRunOut,
    TrainingRunPage,
)

router = Router()

# 401 and 403 come from API Gateway and the admin authorizer, before this function runs.
ADMIN_ERRORS: dict[int, OpenAPIResponse] = {
    status: {"description": description, "content": {"application/json": {"model": model}}}
    for status, description, model in (
        (401, "No Authorization header (API Gateway)", GatewayMessage),
        (403, "The Authorization header holds no valid admin key (the admin authorizer)", GatewayMessage),
        (409, "A run is already active", ErrorResponse),
        (503, "The registry or the state machine is unavailable; nothing was started", ErrorResponse),
    )
}


def started(body: RunStarted) -> Response[str]:
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type="application/json",
        body=body.model_dump_json(),
        headers={"Location": f"/training/{body.run_id}"},
    )


@router.post(
    "/training",
    summary="Start a retraining run on all feedback so far; admin",
    middlewares=[require_admin],
    security=ADMIN_ONLY,
    responses={
        202: {"description": "Run started", "content": {"application/json": {"model": RunStarted}}},
        **ADMIN_ERRORS,
    },
)
def start_training() -> Response[str]:
    run = training.start_training(services())
    return started(RunStarted(run_id=run.run_id, status=run.status, trigger=run.trigger))


@router.get(
    "/training",
    summary="Retraining runs, newest first",
    responses={
        **answers(200, "A page of runs", TrainingRunPage),
        400: {
            "description": "A next_token this API did not issue",
            "content": {"application/json": {"model": ErrorResponse}},
        },
    },
)
def list_runs(
    limit: Annotated[int, Query(ge=1, le=100, description="Runs per page")] = 20,
    next_token: Annotated[str | None, Query(max_length=2048, description="From the previous page")] = None,
) -> TrainingRunPage:
    runs, token = training.list_runs(services(), limit, next_token)
    state = training.pipeline_state(services())
    held = HeldBackOut(**state.held_back.model_dump()) if state.held_back else None
    return TrainingRunPage(
        items=[TrainingRunOut.of(run) for run in runs],
        next_token=token,
        pending_feedback=state.pending_feedback,
        held_back=held,
    )


@router.get(
    "/training/<run_id>",
    summary="One run: status, steps, metrics, decision",
    responses={
        **answers(200, "The run", TrainingRunOut),
        404: {"description": "No such run", "content": {"application/json": {"model": ErrorResponse}}},
    },
)
def get_run(run_id: Annotated[str, Path(min_length=1, max_length=80, description="A run id")]) -> TrainingRunOut:
    return TrainingRunOut.of(training.get_run(run_id, services()))
