"""Entry point of the HTTP API function: the resolver, its routes, and the one place errors map to statuses."""

from __future__ import annotations

import base64
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from api_function.auth import SCHEME
from api_function.context import idempotency_config, settings
from api_function.routes import comments, feedback, health, models, monitoring, training
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
from sentiment_common.observability import logger, metrics, tracer

OPENAPI_TITLE = "Sentiment feedback loop API"
OPENAPI_VERSION = "1.0.0"
BODY_METHODS = {"POST", "PUT", "PATCH"}

app = APIGatewayHttpResolver(
    enable_validation=True,
    cors=CORSConfig(
        allow_origin=settings.allowed_origin,
        allow_headers=["Idempotency-Key", "Authorization"],
        max_age=600,
    ),
)
app.include_router(comments.router)
app.include_router(feedback.router)
app.include_router(health.router)
app.include_router(models.router)
app.include_router(monitoring.router)
app.include_router(training.router)

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


def _body_bytes(event_body: str | None, is_base64: bool) -> bytes:
    if not event_body:
        return b""
    return base64.b64decode(event_body) if is_base64 else event_body.encode()


def _not_json() -> str | None:
    """The media type of the current request's body when it is not JSON (a missing type counts as JSON)."""
    event = app.current_event
    if event.http_method not in BODY_METHODS:
        return None
    media_type = (event.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    return None if media_type == "application/json" else media_type


def _json_only(media_type: str) -> str:
    return f"send Content-Type: application/json, not {media_type}"


def guard_body(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Bodies must be small, UTF-8 and JSON."""
    event = app.current_event
    if event.http_method in BODY_METHODS:
        body = _body_bytes(event.body, bool(event.is_base64_encoded))
        if len(body) > settings.max_body_bytes:
            raise PayloadTooLargeError(f"the body is larger than {settings.max_body_bytes} bytes")
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidInputError(f"the body is not UTF-8 (byte {error.start})") from error
        if media_type := _not_json():
            raise UnsupportedMediaTypeError(_json_only(media_type))
    return next_middleware(app)


app.use(middlewares=[guard_body])


@app.exception_handler(DomainError)
def domain_error(error: DomainError) -> Response[str]:
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


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response[str]:
    if media_type := _not_json():
        return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, _json_only(media_type))
    details = [_detail(item) for item in error.errors()]
    if any(item["type"] == "json_invalid" for item in details):
        return _error(HTTPStatus.BAD_REQUEST, "the body is not valid JSON", details)
    fields = ", ".join(".".join(str(part) for part in item["loc"]) for item in details)
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, f"invalid request: {fields}", details)


@app.exception_handler(UnicodeDecodeError)
def not_utf8(error: UnicodeDecodeError) -> Response[str]:
    return _error(HTTPStatus.BAD_REQUEST, f"the body is not UTF-8 (byte {error.start})")


@app.exception_handler(RequestUnsupportedContentType)
def unsupported_content(error: RequestUnsupportedContentType) -> Response[str]:
    return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, _json_only(_not_json() or "what was sent"))


@app.exception_handler(IdempotencyValidationError)
def key_reused(error: IdempotencyValidationError) -> Response[str]:
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "this Idempotency-Key was already used with a different body")


@app.exception_handler(IdempotencyAlreadyInProgressError)
def key_in_flight(error: IdempotencyAlreadyInProgressError) -> Response[str]:
    return _error(
        HTTPStatus.CONFLICT, "a request with this Idempotency-Key is still running", headers={"Retry-After": "1"}
    )


@app.not_found
def route_not_found(error: Exception) -> Response[str]:
    return _error(HTTPStatus.NOT_FOUND, f"no route {app.current_event.http_method} {app.current_event.path}")


@app.exception_handler(ValueError)
def unreadable_body(error: ValueError) -> Response[str]:
    if media_type := _not_json():
        return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, _json_only(media_type))
    return _internal_error()


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response[str]:
    return _internal_error()


def _internal_error() -> Response[str]:
    logger.exception("unexpected error")
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error; it has been logged")


def openapi_document() -> str:
    # Building the OpenAPI models costs every cold start about 30 ms; only this route needs them.
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer  # noqa: PLC0415

    return app.get_openapi_json_schema(
        title=OPENAPI_TITLE,
        version=OPENAPI_VERSION,
        description="Classify comments, collect corrections, retrain the model from them.",
        security_schemes={
            SCHEME: HTTPBearer(
                description="The admin key (kept in Secrets Manager), as `Authorization: Bearer <key>`. "
                "API Gateway answers 401 without the header; the admin authorizer answers 403 to a wrong key."
            )
        },
    )


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> Response[str]:
    return Response(status_code=HTTPStatus.OK, content_type="application/json", body=openapi_document())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency_config.register_lambda_context(context)
    # An HTTP API passes the path as the client sent it, percent-encoded; path parameters are the decoded text.
    event = {**event, "rawPath": unquote(event.get("rawPath") or "/")}
    return app.resolve(event, context)
