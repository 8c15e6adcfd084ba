"""The public routes' Lambda authorizer: only requests that came through CloudFront reach the API.

CloudFront adds ``X-Origin-Verify`` with a generated value (kept in Secrets Manager; the distribution
reads it through a dynamic reference) to every request it forwards to the HTTP API. That header is this
authorizer's identity source, so API Gateway itself answers 401 to a request without it, calling no
function at all: a client that calls the API's own address to get round the web ACL in front of
CloudFront costs nothing. A request that carries the header with any other value is refused (403).
API Gateway caches an allowed value for the authorizer's ``ReauthorizeEvery``, so CloudFront's own
traffic calls this function about once per cache period, not once per request. Neither the value nor
what the caller sent is logged; when the secret cannot be read the function fails (API Gateway answers
500): closed, never open.
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

from authorizer_function.dependencies import origin_secret
from sentiment_common.observability import count, logger, metrics

HEADER = "x-origin-verify"


def came_through_cloudfront(value: str | None) -> bool:
    return bool(value) and origin_secret().matches(str(value))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
@event_source(data_class=APIGatewayAuthorizerEventV2)
def lambda_handler(event: APIGatewayAuthorizerEventV2, context: LambdaContext) -> dict[str, Any]:
    allowed = came_through_cloudfront(event.headers.get(HEADER))
    if not allowed:
        logger.warning(
            "public route refused: the request did not come through CloudFront (wrong X-Origin-Verify)",
            extra={"route": event.route_key, "source_ip": event.request_context.http.source_ip},
        )
        count("OriginRefused")
    return APIGatewayAuthorizerResponseV2(authorize=allowed).asdict()
