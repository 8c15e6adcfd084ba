"""Admin and reviewer routes: the HTTP API's Lambda authorizers check the key before this function runs.

API Gateway answers 401 when ``Authorization`` is missing and 403 when an authorizer refuses it
(``functions/authorizer``: the admin key for admin routes; a reviewer's key, or the admin key as
reviewer ``admin``, for ``POST /reviews``). What it allowed arrives as ``requestContext.authorizer.lambda``;
the routes check that here too, so a route deployed without its authorizer lets no one in.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from sentiment_common.errors import ForbiddenError
from sentiment_common.observability import logger

ADMIN_ROLE = "admin"
REVIEWER_ROLE = "reviewer"
SCHEME = "adminKey"  # the OpenAPI security scheme of the admin routes
REVIEWER_SCHEME = "reviewerKey"  # and of the reviewer route
ADMIN_ONLY: list[dict[str, list[str]]] = [{SCHEME: []}]
REVIEWERS_ONLY: list[dict[str, list[str]]] = [{REVIEWER_SCHEME: []}]


def _allowed(event: dict[str, Any], name: str) -> str | None:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    value = (authorizer.get("lambda") or {}).get(name)
    return value if isinstance(value, str) and value else None


def authorized_role(event: dict[str, Any]) -> str | None:
    return _allowed(event, "role")


def authorized_reviewer(event: dict[str, Any]) -> str:
    """The reviewer the reviewer authorizer allowed; :class:`ForbiddenError` for anything else."""
    reviewer = _allowed(event, "reviewer")
    if authorized_role(event) != REVIEWER_ROLE or reviewer is None:
        logger.error("reviewer route reached without the reviewer authorizer", extra={"path": event.get("rawPath")})
        raise ForbiddenError("this route is open only to requests the reviewer authorizer allowed")
    return reviewer


def require_admin(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    if authorized_role(app.current_event.raw_event) != ADMIN_ROLE:
        logger.error("admin route reached without the admin authorizer", extra={"route": app.current_event.path})
        raise ForbiddenError("this route is open only to requests the admin authorizer allowed")
    return next_middleware(app)


def require_reviewer(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    authorized_reviewer(app.current_event.raw_event)
    return next_middleware(app)
