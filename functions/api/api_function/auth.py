"""Admin routes: the HTTP API's Lambda authorizer checks the admin key before this function runs.

API Gateway answers 401 when ``Authorization`` is missing and 403 when the authorizer refuses it
(``functions/authorizer``). What it allowed arrives as ``requestContext.authorizer.lambda``; the
admin routes check that here too, so a route deployed without the authorizer lets no one in.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from sentiment_common.errors import ForbiddenError
from sentiment_common.observability import logger

ADMIN_ROLE = "admin"
SCHEME = "adminKey"  # the OpenAPI security scheme of the admin routes
ADMIN_ONLY: list[dict[str, list[str]]] = [{SCHEME: []}]


def authorized_role(event: dict[str, Any]) -> str | None:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    role = (authorizer.get("lambda") or {}).get("role")
    return role if isinstance(role, str) else None


def require_admin(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    if authorized_role(app.current_event.raw_event) != ADMIN_ROLE:
        logger.error("admin route reached without the admin authorizer", extra={"route": app.current_event.path})
        raise ForbiddenError("this route is open only to requests the admin authorizer allowed")
    return next_middleware(app)
