from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from api_function.dependencies import services
from api_function.logic import training
from api_function.routes import admin_only, answers, documented
from api_function.schemas import (
    HeldBackOut,
    RunStarted,
    TrainingRunOut,
    TrainingRunPage,
)

router = Router()

# A run's own refusals, after the admin authorizer's.
RUN_ERRORS: dict[int, OpenAPIResponse] = {
    409: documented("A run is already active"),
    503: documented("The registry or the state machine is unavailable; nothing was started"),
}


def started(body: RunStarted) -> Response[str]:
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type="application/json",
        body=body.model_dump_json(),
        headers={"Location": f"/training/{body.run_id}"},
    )


@admin_only(
    router.post,
    "/training",
    "Start a retraining run on all feedback so far; admin",
    {**answers(202, "Run started", RunStarted), **RUN_ERRORS},
)
def start_training() -> Response[str]:
    run = training.start_training(services())
    return started(RunStarted(run_id=run.run_id, status=run.status, trigger=run.trigger))


@router.get(
    "/training",
    summary="Retraining runs, newest first",
    responses={
        **answers(200, "A page of runs", TrainingRunPage),
        400: documented("A next_token this API did not issue"),
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
        404: documented("No such run"),
    },
)
def get_run(run_id: Annotated[str, Path(min_length=1, max_length=80, description="A run id")]) -> TrainingRunOut:
    return TrainingRunOut.of(training.get_run(run_id, services()))
