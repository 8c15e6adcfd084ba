from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from api_function.dependencies import services
from api_function.idempotency import once
from api_function.logic.feedback import record_feedback
from api_function.routes import answers, documented
from api_function.routes.comments import ERRORS, IdempotencyKey
from api_function.schemas import FeedbackRequest, FeedbackResponse

router = Router()


@router.post(
    "/feedback",
    status_code=HTTPStatus.CREATED,
    summary="Correct (or confirm) a label: it trains, suggests or is only archived, as PublicLabels says",
    responses={
        **answers(201, "Recorded", FeedbackResponse),
        404: documented("No such comment"),
        **ERRORS,
    },
)
def post_feedback(request: FeedbackRequest, idempotency_key: IdempotencyKey = None) -> FeedbackResponse:
    return once(
        idempotency_key,
        "POST /feedback",
        request,
        lambda: FeedbackResponse.of(record_feedback(request.comment_id, request.text, request.label, services())),
        FeedbackResponse,
    )
