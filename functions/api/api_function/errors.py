"""The one place errors become statuses: domain errors by type, validation and idempotency errors, the
unknown route, and anything unexpected (a 500 that is logged)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from api_function.middleware import json_only, not_json
from api_function.schemas import ErrorResponse
from sentiment_common.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    UnsupportedMediaTypeError,
)
from sentiment_common.observability import logger

STATUS_OF: dict[type[DomainError], HTTPStatus] = {
    NotFoundError: HTTPStatus.NOT_FOUND,
    InvalidInputError: HTTPStatus.BAD_REQUEST,
    ConflictError: HTTPStatus.CONFLICT,
    PayloadTooLargeError: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    UnsupportedMediaTypeError: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    ServiceUnavailableError: HTTPStatus.SERVICE_UNAVAILABLE,
    ForbiddenError: HTTPStatus.FORBIDDEN,
}


def _error(
    status: HTTPStatus,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=ErrorResponse(message=message, details=details or []).model_dump_json(),
        headers=headers,
    )


def domain_error(app: APIGatewayHttpResolver, error: DomainError) -> Response[str]:
    status = next(
        (code for kind, code in STATUS_OF.items() if isinstance(error, kind)), HTTPStatus.INTERNAL_SERVER_ERROR
    )
    if isinstance(error, ServiceUnavailableError):
        logger.warning("dependency unavailable", extra={"reason": error.message})
        return _error(status, error.message, error.details, {"Retry-After": str(error.retry_after)})
    return _error(status, error.message, error.details)


def _detail(error: dict[str, Any]) -> dict[str, Any]:
    return {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type", "")}


# Powertools' request validation reads form and multipart bodies before any middleware of ours runs,
# so a body that is not JSON fails there, as a validation error or a ValueError; it is still a 415.


def invalid_request(app: APIGatewayHttpResolver, error: RequestValidationError) -> Response[str]:
    if media_type := not_json(app.current_event):
        return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, json_only(media_type))
    details = [_detail(item) for item in error.errors()]
    if any(item["type"] == "json_invalid" for item in details):
        return _error(HTTPStatus.BAD_REQUEST, "the body is not valid JSON", details)
    fields = ", ".join(".".join(str(part) for part in item["loc"]) for item in details)
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, f"invalid request: {fields}", details)


def not_utf8(app: APIGatewayHttpResolver, error: UnicodeDecodeError) -> Response[str]:
    return _error(HTTPStatus.BAD_REQUEST, f"the body is not UTF-8 (byte {error.start})")


def unsupported_content(app: APIGatewayHttpResolver, error: RequestUnsupportedContentType) -> Response[str]:
    return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, json_only(not_json(app.current_event) or "what was sent"))


def key_reused(app: APIGatewayHttpResolver, error: IdempotencyValidationError) -> Response[str]:
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "this Idempotency-Key was already used with a different body")


def key_in_flight(app: APIGatewayHttpResolver, error: IdempotencyAlreadyInProgressError) -> Response[str]:
    return _error(
        HTTPStatus.CONFLICT, "a request with this Idempotency-Key is still running", headers={"Retry-After": "1"}
    )


def route_not_found(app: APIGatewayHttpResolver, error: Exception) -> Response[str]:
    return _error(HTTPStatus.NOT_FOUND, f"no route {app.current_event.http_method} {app.current_event.path}")


def unreadable_body(app: APIGatewayHttpResolver, error: ValueError) -> Response[str]:
    if media_type := not_json(app.current_event):
        return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, json_only(media_type))
    return _internal_error()


def unexpected(app: APIGatewayHttpResolver, error: Exception) -> Response[str]:
    return _internal_error()


def _internal_error() -> Response[str]:
    logger.exception("unexpected error")
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error; it has been logged")


# Each handler is given the app (for the request being answered) and the error. The most specific one
# wins, whatever the order: Powertools looks along the error's class hierarchy.
HANDLERS: dict[type[Exception], Callable[[APIGatewayHttpResolver, Any], Response[str]]] = {
    DomainError: domain_error,
    RequestValidationError: invalid_request,
    UnicodeDecodeError: not_utf8,
    RequestUnsupportedContentType: unsupported_content,
    IdempotencyValidationError: key_reused,
    IdempotencyAlreadyInProgressError: key_in_flight,
    ValueError: unreadable_body,
    Exception: unexpected,
}


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    """Give ``app`` every handler above, and the answer to a route it does not have."""
    for kind, handler in HANDLERS.items():
        app.exception_handler(kind)(partial(handler, app))
    app.not_found(partial(route_not_found, app))
