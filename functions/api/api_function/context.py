"""What the function builds on first use, then keeps: settings, adapters, idempotency, the CORS policy.

Nothing here reads the environment at import, so the API's modules import without one (the OpenAPI
generator, tests). The first request reads the settings: a missing variable fails that request, and
the error names it (``comments_table``: Field required). Building all of it costs well under a
millisecond; the clients it holds connect later still, on their first call.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import CORSConfig
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel

from api_function.services import Services
from sentiment_common.settings import ApiSettings


@cache
def settings() -> ApiSettings:
    return ApiSettings.from_environment()


@cache
def services() -> Services:
    return Services.from_settings(settings())


@cache
def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        expires_after_seconds=settings().idempotency_ttl_seconds,
    )


@cache
def _persistence() -> DynamoDBPersistenceLayer:
    """Made on the first request that carries an Idempotency-Key (it creates a DynamoDB client)."""
    return DynamoDBPersistenceLayer(table_name=settings().idempotency_table)


# CORS also lets in these request headers, and browsers may keep a preflight's answer this long (seconds).
CORS_HEADERS = ["Idempotency-Key", "Authorization"]
CORS_MAX_AGE = 600


@cache
def cors() -> CORSConfig:
    return CORSConfig(allow_origin=settings().allowed_origin, allow_headers=CORS_HEADERS, max_age=CORS_MAX_AGE)


class SettingsCORS(CORSConfig):
    """The policy the resolver is given when it is made, at import. It answers as ``cors()`` does (its
    own defaults go unused), so the allowed origin, a setting, is read when a response first needs it."""

    def to_dict(self, origin: str | None) -> dict[str, str]:
        return cors().to_dict(origin)

    def allowed_origin(self, extracted_origin: str) -> str | None:
        return cors().allowed_origin(extracted_origin)


def forget() -> None:
    """Drop everything built from the settings, so the next use reads the environment again."""
    for built in (settings, services, idempotency_config, _persistence, cors):
        built.cache_clear()


Out = TypeVar("Out", bound=BaseModel)


def once(key: str | None, operation: str, request: BaseModel, work: Callable[[], Out], output: type[Out]) -> Out:
    """Run ``work`` at most once per ``Idempotency-Key`` and operation; a retry gets the first answer.

    The same key with another body is refused (``IdempotencyValidationError``); a retry while the
    first call is still running gets ``IdempotencyAlreadyInProgressError``. Without a key, ``work``
    simply runs.
    """
    if key is None:
        return work()

    @idempotent_function(
        data_keyword_argument="call",
        persistence_store=_persistence(),
        config=idempotency_config(),
        output_serializer=PydanticSerializer(output),
    )
    def first_time(call: dict[str, Any]) -> Out:
        return work()

    result: Out = first_time(call={"key": f"{operation} {key}", "body": request.model_dump(mode="json")})
    return result
