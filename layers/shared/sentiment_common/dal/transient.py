"""AWS errors worth a retry become :class:`ServiceUnavailableError` (503 + Retry-After), the rest propagate."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from sentiment_common.errors import ServiceUnavailableError

TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "SlowDown",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


@contextmanager
def unavailable_when_transient(what: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in TRANSIENT_CODES:
            raise ServiceUnavailableError(f"{what} is busy; try again shortly") from error
        raise
    except BotoCoreError as error:
        raise ServiceUnavailableError(f"{what} could not be reached; try again shortly") from error
