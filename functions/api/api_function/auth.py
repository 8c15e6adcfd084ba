"""Admin routes: the admin key in ``Authorization: Bearer <key>`` or ``x-api-key``.

No credential → 401; a wrong one → 403. The key lives in Secrets Manager and is compared in
constant time; neither it nor what the caller sent is ever logged.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from api_function.context import services
from sentiment_common.errors import ForbiddenError, UnauthorizedError
from sentiment_common.observability import logger

BEARER = "bearer "


def presented_key(headers: dict[str, str]) -> str | None:
    lowered = {name.lower(): value for name, value in headers.items()}
    authorization = lowered.get("authorization", "")
    if authorization[: len(BEARER)].lower() == BEARER and authorization[len(BEARER) :].strip():
        return authorization[len(BEARER) :].strip()
    api_key = lowered.get("x-api-key", "").strip()
    return api_key or None


def require_admin(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    key = presented_key(dict(app.current_event.headers or {}))
    if key is None:
        raise UnauthorizedError("this route needs the admin key: Authorization: Bearer <key> or x-api-key: <key>")
    if not services.admin_key.matches(key):
        logger.warning("admin route refused: wrong key", extra={"route": app.current_event.path})
        raise ForbiddenError("the admin key is not valid")
    return next_middleware(app)
