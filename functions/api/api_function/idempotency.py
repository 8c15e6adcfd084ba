"""Idempotency-Key: a retried write gets the first answer instead of running twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel

from api_function.dependencies import idempotency_config, idempotency_store

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
        persistence_store=idempotency_store(),
        config=idempotency_config(),
        output_serializer=PydanticSerializer(output),
    )
    def first_time(call: dict[str, Any]) -> Out:
        return work()

    result: Out = first_time(call={"key": f"{operation} {key}", "body": request.model_dump(mode="json")})
    return result
