"""The API's routes, one module per resource, and how they document their answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from api_function.auth import ADMIN_ONLY, require_admin
from api_function.schemas import ErrorResponse, GatewayMessage


def documented(description: str, model: type[Any] = ErrorResponse) -> OpenAPIResponse:
    """One response for the OpenAPI document: what it means and the JSON body it carries."""
    return {"description": description, "content": {"application/json": {"model": model}}}


def answers(status: int, description: str, model: type[Any]) -> dict[int, OpenAPIResponse]:
    """A success response for the OpenAPI document. Powertools documents the default one only when a
    route names no ``responses`` of its own, so every route that lists its errors lists this too."""
    return {status: documented(description, model)}


# 401 and 403 come from API Gateway and the admin authorizer, before this function runs.
ADMIN_ERRORS: dict[int, OpenAPIResponse] = {
    401: documented("No Authorization header (API Gateway)", GatewayMessage),
    403: documented("The Authorization header holds no valid admin key (the admin authorizer)", GatewayMessage),
}


# Every POST runs behind the body guard (api_function.middleware) before its handler: a body that is not
# UTF-8 JSON or is too large is refused there, whatever the route, so every POST documents these answers.
BODY_ERRORS: dict[int, OpenAPIResponse] = {
    400: documented("Malformed request: the body is not UTF-8, or not valid JSON"),
    413: documented("Body too large"),
    415: documented("Body is not JSON"),
}


def admin_only(
    route: Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]],
    path: str,
    summary: str,
    responses: dict[int, OpenAPIResponse],
    **options: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An admin route (``route`` is the router's ``get``, ``post``…): behind the admin authorizer, checked
    again here, documented with the admin key's security scheme and the answers API Gateway gives first."""
    body = BODY_ERRORS if getattr(route, "__name__", "") == "post" else {}
    return route(
        path,
        summary=summary,
        middlewares=[require_admin],
        security=ADMIN_ONLY,
        responses={**body, **responses, **ADMIN_ERRORS},
        **options,
    )
