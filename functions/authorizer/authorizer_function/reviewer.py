"""The reviewer routes' Lambda authorizer (``ReviewerAuthorizerFunction``): HTTP API, payload 2.0, simple responses.

It allows ``Authorization: Bearer <key>`` when the key is an active reviewer's (found by its SHA-256 in
one consistent GetItem on the registry table: a revoked key's item is gone, so revocation holds from
the next call) or the admin key (allowed as reviewer ``admin``). Anything else is refused and API
Gateway answers 403; a missing header never reaches it (401). The allowed context,
``{"role": "reviewer", "reviewer": <name>}``, reaches the API function, which checks it again.

A function of its own, not a second mode of the admin authorizer: the admin authorizer keeps only its
secret read, so no reviewer key can pass it whatever this code does, and only this function may read
the keys' items.
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

from authorizer_function.dependencies import admin_key, reviewers
from sentiment_common.dal.secrets import bearer_token
from sentiment_common.observability import count, logger, metrics
from sentiment_common.reviewers import ADMIN_REVIEWER, key_digest, looks_like_reviewer_key

REVIEWER_ROLE = "reviewer"


def reviewer_named_by(authorization: str | None) -> str | None:
    """The reviewer the header's key belongs to, or None."""
    key = bearer_token(authorization)
    if key is None:
        return None
    # The prefix says where to look: a reviewer key is never the admin key, which has no underscore.
    if looks_like_reviewer_key(key):
        return reviewers().reviewer_for(key_digest(key))
    return ADMIN_REVIEWER if admin_key().matches(key) else None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
@event_source(data_class=APIGatewayAuthorizerEventV2)
def lambda_handler(event: APIGatewayAuthorizerEventV2, context: LambdaContext) -> dict[str, Any]:
    name = reviewer_named_by(event.headers.get("authorization"))
    if name is None:
        logger.warning(
            "reviewer route refused: the Authorization header holds no active reviewer key",
            extra={"route": event.route_key, "source_ip": event.request_context.http.source_ip},
        )
        count("ReviewerRefused")
        return APIGatewayAuthorizerResponseV2(authorize=False).asdict()
    logger.info("reviewer allowed", extra={"route": event.route_key, "reviewer": name})
    return APIGatewayAuthorizerResponseV2(authorize=True, context={"role": REVIEWER_ROLE, "reviewer": name}).asdict()
