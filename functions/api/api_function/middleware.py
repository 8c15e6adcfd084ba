"""The body guard every route runs behind: bodies must be small, UTF-8 and JSON."""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from api_function.dependencies import settings
from sentiment_common.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError

BODY_METHODS = {"POST", "PUT", "PATCH"}


def _body_bytes(event_body: str | None, is_base64: bool) -> bytes:
    if not event_body:
        return b""
    return base64.b64decode(event_body) if is_base64 else event_body.encode()


def not_json(event: APIGatewayProxyEventV2) -> str | None:
    """The media type of the request's body when it is not JSON (a missing type counts as JSON)."""
    if event.http_method not in BODY_METHODS:
        return None
    media_type = (event.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    return None if media_type == "application/json" else media_type


def json_only(media_type: str) -> str:
    return f"send Content-Type: application/json, not {media_type}"


def guard_body(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    event = app.current_event
    if event.http_method in BODY_METHODS:
        body = _body_bytes(event.body, bool(event.is_base64_encoded))
        limit = settings().max_body_bytes
        if len(body) > limit:
            raise PayloadTooLargeError(f"the body is larger than {limit} bytes")
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidInputError(f"the body is not UTF-8 (byte {error.start})") from error
        if media_type := not_json(event):
            raise UnsupportedMediaTypeError(json_only(media_type))
    return next_middleware(app)
