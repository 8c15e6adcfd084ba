"""What a cold start builds once: settings (a missing variable fails here), adapters, idempotency."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel

from api_function.services import Services
from sentiment_common.settings import ApiSettings

settings = ApiSettings.from_environment()
services = Services.from_settings(settings)


@cache
def _persistence() -> DynamoDBPersistenceLayer:
    """Made on the first request that carries an Idempotency-Key (it creates a DynamoDB client)."""
    return DynamoDBPersistenceLayer(table_name=settings.idempotency_table)


idempotency_config = IdempotencyConfig(
    event_key_jmespath="key",
    payload_validation_jmespath="body",
    expires_after_seconds=settings.idempotency_ttl_seconds,
)

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
        config=idempotency_config,
        output_serializer=PydanticSerializer(output),
    )
    def first_time(call: dict[str, Any]) -> Out:
        return work()

    result: Out = first_time(call={"key": f"{operation} {key}", "body": request.model_dump(mode="json")})
    return result
