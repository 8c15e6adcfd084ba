"""The admin routes' Lambda authorizer: HTTP API, payload format 2.0, simple responses.

Its identity source is the ``Authorization`` header, so API Gateway itself answers 401 when the
header is missing or empty, without calling this function. Otherwise the function decides: the
header must be ``Bearer <key>`` with the key kept in Secrets Manager, compared in constant time;
anything else is refused and API Gateway answers 403. Neither the key nor what the caller sent is
logged. When the secret cannot be read the function fails, and API Gateway answers 500: closed,
never open.

What it allows reaches the API function as ``requestContext.authorizer.lambda``, which the API's
admin routes check again, so a route deployed without this authorizer lets no one in.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
    APIGatewayAuthorizerResponseV2,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from authorizer_function.dependencies import admin_key
from sentiment_common.dal.secrets import bearer_token
from sentiment_common.observability import count, logger, metrics

ADMIN_CONTEXT = {"role": "admin"}


def is_admin(authorization: str | None) -> bool:
    key = bearer_token(authorization)
    return key is not None and admin_key().matches(key)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
@event_source(data_class=APIGatewayAuthorizerEventV2)
def lambda_handler(event: APIGatewayAuthorizerEventV2, context: LambdaContext) -> dict[str, Any]:
    allowed = is_admin(event.headers.get("authorization"))
    if not allowed:
        logger.warning(
            "admin route refused: the Authorization header holds no valid admin key",
            extra={"route": event.route_key, "source_ip": event.request_context.http.source_ip},
        )
        count("AdminRefused")
    return APIGatewayAuthorizerResponseV2(authorize=allowed, context=ADMIN_CONTEXT if allowed else None).asdict()
