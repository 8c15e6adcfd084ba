"""The OpenAPI document, generated from the routes; served at ``GET /openapi.json`` and committed as
``functions/api/openapi.json`` (``make openapi``)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from api_function.auth import REVIEWER_SCHEME, SCHEME

OPENAPI_TITLE = "Sentiment feedback loop API"
OPENAPI_VERSION = "1.0.0"


def openapi_document(app: APIGatewayHttpResolver) -> str:
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
            ),
            REVIEWER_SCHEME: HTTPBearer(
                description="A reviewer's key (`rvw_...`, issued by `POST /reviewers`), or the admin key (labels then "
                "carry reviewer `admin`), as `Authorization: Bearer <key>`. API Gateway answers 401 without the "
                "header; the reviewer authorizer answers 403 to an unknown or revoked key."
            ),
        },
    )


def add_openapi_route(app: APIGatewayHttpResolver) -> None:
    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> Response[str]:
        return Response(status_code=HTTPStatus.OK, content_type="application/json", body=openapi_document(app))
