"""AWS errors worth a retry become :class:`ServiceUnavailableError` (503 + Retry-After), the rest propagate."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from sentiment_common.errors import ServiceUnavailableError

# The codes worth a retry that the services called under unavailable_when_transient answer with:
# DynamoDB, S3, SageMaker and Step Functions.
TRANSIENT_CODES = frozenset(
    {
        # DynamoDB API reference, each operation's "Errors" (declared in its model)
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "InternalServerError",
        "TransactionConflictException",
        # Common to every AWS API that uses them (SageMaker and Step Functions API references,
        # "Common Errors"): throttled (400), an internal failure (500), unavailable (503)
        "InternalFailure",
        "ServiceUnavailable",
        # S3 API reference, "Error codes": SlowDown (503), InternalError (500), ServiceUnavailable (503)
        "SlowDown",
        "InternalError",
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
