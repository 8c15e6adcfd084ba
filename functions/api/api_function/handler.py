"""The HTTP API function's wiring: the resolver with its routes, body guard, error handlers and OpenAPI
route, and the entry point Lambda calls (through ``main``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from api_function.cors import DeferredCORS
from api_function.dependencies import cors, idempotency_config
from api_function.errors import register_error_handlers
from api_function.middleware import guard_body
from api_function.openapi import add_openapi_route
from api_function.routes import comments, datasets, feedback, health, jobs, monitoring, registry, reviewers, training
from sentiment_common.observability import logger, metrics, tracer

app = APIGatewayHttpResolver(enable_validation=True, cors=DeferredCORS(cors))
for resource in (
    comments,
    feedback,
    health,
    registry,
    monitoring,
    reviewers,
    training,
    jobs,
    datasets,
):  # the OpenAPI order
    app.include_router(resource.router)
app.use(middlewares=[guard_body])
register_error_handlers(app)
add_openapi_route(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The first request reads the settings here, before any route: a missing variable fails it by name.
    idempotency_config().register_lambda_context(context)
    # An HTTP API passes the path as the client sent it, percent-encoded; path parameters are the decoded text.
    event = {**event, "rawPath": unquote(event.get("rawPath") or "/")}
    return app.resolve(event, context)
