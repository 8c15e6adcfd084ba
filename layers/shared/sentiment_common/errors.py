"""Domain errors. Each API maps them to a status code in one place; nothing matches messages."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class: ``message`` is safe to show to the caller, ``details`` says which field and why."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFoundError(DomainError):
    """The thing asked for does not exist."""


class InvalidInputError(DomainError):
    """The request is well-formed JSON but its content is not acceptable."""


class PayloadTooLargeError(DomainError):
    """The request body is over the size the API accepts."""


class UnsupportedMediaTypeError(DomainError):
    """The request body is not JSON."""


class ConflictError(DomainError):
    """The request clashes with another one (an idempotency key reused, or still in flight)."""


class ModelUnavailableError(DomainError):
    """The model could not be reached or answered with something unusable; worth retrying later."""


class ModelStartingError(ModelUnavailableError):
    """The model is starting: a serverless endpoint that scaled to zero is starting an instance (its
    container and model download), so the call ran out of time or SageMaker said it is not ready yet.
    It answers within about a minute; a caller that cannot wait that long retries later."""


class ServiceUnavailableError(DomainError):
    """A dependency failed and nothing was stored; the caller may retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ForbiddenError(DomainError):
    """The caller may not do this."""
