"""Reviewers: an admin issues, lists, revokes and withdraws them; a reviewer labels through ``POST /reviews``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from api_function.auth import ADMIN_ONLY, REVIEWERS_ONLY, authorized_reviewer, require_admin, require_reviewer
from api_function.dependencies import services
from api_function.idempotency import once
from api_function.logic import reviewers
from api_function.logic.feedback import record_feedback
from api_function.routes import answers
from api_function.routes.comments import ERRORS, IdempotencyKey
from api_function.schemas import (
    ErrorResponse,
    FeedbackRequest,
    GatewayMessage,
    ReviewerCreated,
    ReviewerList,
    ReviewerOut,
    ReviewerRequest,
    ReviewResponse,
)
from sentiment_common.records import LabelSource
from sentiment_common.reviewers import NAME_PATTERN

router = Router()

ReviewerName = Annotated[str, Path(pattern=NAME_PATTERN, description="The reviewer's name")]


def _error(description: str, model: type = ErrorResponse) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


# 401 and 403 come from API Gateway and the authorizers, before this function runs.
ADMIN_ERRORS: dict[int, OpenAPIResponse] = {
    401: _error("No Authorization header (API Gateway)", GatewayMessage),
    403: _error("The Authorization header holds no valid admin key (the admin authorizer)", GatewayMessage),
}
NO_SUCH_REVIEWER: dict[int, OpenAPIResponse] = {404: _error("No reviewer by that name")}


@router.post(
    "/reviewers",
    status_code=HTTPStatus.CREATED,
    summary="Create a reviewer and issue their key (shown once); admin",
    middlewares=[require_admin],
    security=ADMIN_ONLY,
    responses={
        **answers(201, "Created; the key is in the body, this once", ReviewerCreated),
        409: _error("The name is taken by an active reviewer, or was withdrawn"),
        **{status: ERRORS[status] for status in (400, 413, 415, 503)},
        **ADMIN_ERRORS,
    },
)
def create_reviewer(request: ReviewerRequest) -> Response[str]:
    created = ReviewerCreated.of(reviewers.create_reviewer(request.name, services()))
    return Response(
        status_code=HTTPStatus.CREATED,
        content_type="application/json",
        body=created.model_dump_json(),
        # The key must not sit in a shared cache or a browser's disk cache.
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/reviewers",
    summary="Reviewers, by name, never their keys; admin",
    middlewares=[require_admin],
    security=ADMIN_ONLY,
    responses={**answers(200, "Every reviewer", ReviewerList), **ADMIN_ERRORS},
)
def list_reviewers() -> ReviewerList:
    return ReviewerList(reviewers=[ReviewerOut.of(reviewer) for reviewer in reviewers.list_reviewers(services())])


@router.delete(
    "/reviewers/<name>",
    summary="Revoke a reviewer's key, at once (their labels still train: withdraw them for that); admin",
    middlewares=[require_admin],
    security=ADMIN_ONLY,
    responses={**answers(200, "Revoked", ReviewerOut), **NO_SUCH_REVIEWER, **ADMIN_ERRORS},
)
def revoke_reviewer(name: ReviewerName) -> ReviewerOut:
    return ReviewerOut.of(reviewers.revoke_reviewer(name, services()))


@router.post(
    "/reviewers/<name>/withdraw",
    summary="Withdraw a reviewer's labels from training from the next run on, and revoke their key; admin",
    middlewares=[require_admin],
    security=ADMIN_ONLY,
    responses={**answers(200, "Withdrawn", ReviewerOut), **NO_SUCH_REVIEWER, **ADMIN_ERRORS},
)
def withdraw_reviewer(name: ReviewerName) -> ReviewerOut:
    return ReviewerOut.of(reviewers.withdraw_reviewer(name, services()))


@router.post(
    "/reviews",
    status_code=HTTPStatus.CREATED,
    summary="Label a comment as a named reviewer (the body of POST /feedback); reviewer key",
    middlewares=[require_reviewer],
    security=REVIEWERS_ONLY,
    responses={
        **answers(201, "Recorded, with the reviewer's name", ReviewResponse),
        401: _error("No Authorization header (API Gateway)", GatewayMessage),
        403: _error("No active reviewer key or admin key (the reviewer authorizer)", GatewayMessage),
        404: _error("No such comment"),
        **ERRORS,
    },
)
def post_review(request: FeedbackRequest, idempotency_key: IdempotencyKey = None) -> ReviewResponse:
    reviewer = authorized_reviewer(router.current_event.raw_event)
    return once(
        idempotency_key,
        f"POST /reviews {reviewer}",
        request,
        lambda: ReviewResponse.of(
            record_feedback(
                request.comment_id,
                request.text,
                request.label,
                services(),
                source=LabelSource.REVIEWER,
                reviewer=reviewer,
            )
        ),
        ReviewResponse,
    )
