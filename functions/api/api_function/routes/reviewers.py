"""Reviewers: an admin issues, lists, revokes and withdraws them; a reviewer labels through ``POST /reviews``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from api_function.auth import REVIEWERS_ONLY, authorized_reviewer, require_reviewer
from api_function.dependencies import services
from api_function.idempotency import once
from api_function.logic import reviewers
from api_function.logic.feedback import record_feedback
from api_function.routes import admin_only, answers, documented
from api_function.routes.comments import ERRORS, IdempotencyKey
from api_function.schemas import (
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


NO_SUCH_REVIEWER: dict[int, OpenAPIResponse] = {404: documented("No reviewer by that name")}


@admin_only(
    router.post,
    "/reviewers",
    "Create a reviewer and issue their key (shown once); admin",
    {
        **answers(201, "Created; the key is in the body, this once", ReviewerCreated),
        409: documented("The name is taken by an active reviewer, or was withdrawn"),
        **{status: ERRORS[status] for status in (400, 413, 415, 503)},
    },
    status_code=HTTPStatus.CREATED,
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


@admin_only(
    router.get,
    "/reviewers",
    "Reviewers, by name, never their keys; admin",
    answers(200, "Every reviewer", ReviewerList),
)
def list_reviewers() -> ReviewerList:
    return ReviewerList(reviewers=[ReviewerOut.of(reviewer) for reviewer in reviewers.list_reviewers(services())])


@admin_only(
    router.delete,
    "/reviewers/<name>",
    "Revoke a reviewer's key, at once (their labels still train: withdraw them for that); admin",
    {**answers(200, "Revoked", ReviewerOut), **NO_SUCH_REVIEWER},
)
def revoke_reviewer(name: ReviewerName) -> ReviewerOut:
    return ReviewerOut.of(reviewers.revoke_reviewer(name, services()))


@admin_only(
    router.post,
    "/reviewers/<name>/withdraw",
    "Withdraw a reviewer's labels from training from the next run on, and revoke their key; admin",
    {**answers(200, "Withdrawn", ReviewerOut), **NO_SUCH_REVIEWER},
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
        401: documented("No Authorization header (API Gateway)", GatewayMessage),
        403: documented("No active reviewer key or admin key (the reviewer authorizer)", GatewayMessage),
        404: documented("No such comment"),
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
