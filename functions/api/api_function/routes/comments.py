from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from api_function.dependencies import services
from api_function.idempotency import once
from api_function.logic import comments
from api_function.routes import answers, documented
from api_function.schemas import (
    BatchItemError,
    BatchItemResult,
    BatchRequest,
    BatchResponse,
    CommentOut,
    CommentPage,
    CommentRequest,
    ExplanationOut,
)
from sentiment_common.records import CommentStatus

router = Router()

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=128,
        description="Any unique string; a retry with the same key returns the first answer and stores nothing twice",
    ),
]
ERRORS: dict[int, OpenAPIResponse] = {
    status: documented(description)
    for status, description in (
        (400, "Malformed request"),
        (409, "Idempotency-Key still in use by a running request"),
        (413, "Body too large"),
        (415, "Body is not JSON"),
        (422, "Invalid field, or Idempotency-Key reused with another body"),
        (503, "Storage unavailable; nothing was stored (see Retry-After)"),
    )
}


def _json(model: CommentOut | BatchResponse, status: HTTPStatus) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=model.model_dump_json())


@router.post(
    "/comments",
    summary="Classify and store a comment",
    responses={
        201: documented("Classified and stored", CommentOut),
        202: documented(
            "Model starting after idle or unreachable: stored as pending (`pending_reason` says which), "
            "classified later",
            CommentOut,
        ),
        **ERRORS,
    },
)
def post_comment(request: CommentRequest, idempotency_key: IdempotencyKey = None) -> Response[str]:
    result = once(
        idempotency_key,
        "POST /comments",
        request,
        lambda: CommentOut.of(comments.create_comment(request.comment, services())),
        CommentOut,
    )
    status = HTTPStatus.ACCEPTED if result.status is CommentStatus.PENDING else HTTPStatus.CREATED
    return _json(result, status)


@router.post(
    "/comments/batch",
    summary="Classify and store up to 25 comments, each answered by its position",
    responses={
        200: documented("Per-item results and errors", BatchResponse),
        202: documented("Model starting after idle or unreachable: valid items stored as pending", BatchResponse),
        **ERRORS,
    },
)
def post_batch(request: BatchRequest, idempotency_key: IdempotencyKey = None) -> Response[str]:
    def work() -> BatchResponse:
        outcome = comments.create_batch(request.comments, services())
        return BatchResponse(
            results=[
                BatchItemResult(index=index, **CommentOut.of(comment).model_dump()) for index, comment in outcome.stored
            ],
            errors=[BatchItemError(index=index, message=message) for index, message in outcome.errors],
        )

    result = once(idempotency_key, "POST /comments/batch", request, work, BatchResponse)
    pending = any(item.status is CommentStatus.PENDING for item in result.results)
    return _json(result, HTTPStatus.ACCEPTED if pending else HTTPStatus.OK)


@router.get(
    "/comments",
    summary="List comments, newest first; or the review queue, most uncertain first",
    responses={**answers(200, "A page of comments", CommentPage), 400: ERRORS[400], 422: ERRORS[422]},
)
def list_comments(
    sentiment: Annotated[
        Literal["negative", "neutral", "positive", "pending"] | None,
        Query(description="Only comments with this label (or still pending)"),
    ] = None,
    needs_review: Annotated[
        bool,
        Query(
            description="true: the review queue instead, classified comments nobody has labelled, smallest "
            "margin between the two likeliest classes first (cannot be combined with sentiment)"
        ),
    ] = False,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 20,
    next_token: Annotated[str | None, Query(max_length=2048, description="From the previous page")] = None,
) -> CommentPage:
    items, token, remaining = comments.list_comments(sentiment, needs_review, limit, next_token, services())
    return CommentPage(items=[CommentOut.of(comment) for comment in items], next_token=token, remaining=remaining)


@router.get(
    "/comments/<comment_id>",
    summary="One comment, with its feedback if any",
    responses={
        **answers(200, "The comment", CommentOut),
        404: documented("No such comment"),
    },
)
def get_comment(comment_id: Annotated[str, Path(min_length=1, max_length=64)]) -> CommentOut:
    return CommentOut.of(comments.get_comment(comment_id, services()))


@router.get(
    "/comments/<comment_id>/explanation",
    summary="Why the serving model labels a comment as it does: each word's weight toward the label",
    responses={
        **answers(200, "The comment's words, each with its weight", ExplanationOut),
        404: documented("No such comment"),
        503: ERRORS[503] | {"description": "The model is starting or unreachable; retry after Retry-After seconds"},
    },
)
def explain_comment(comment_id: Annotated[str, Path(min_length=1, max_length=64)]) -> ExplanationOut:
    return ExplanationOut.of(*comments.explain_comment(comment_id, services()))
