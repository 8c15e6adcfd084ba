"""The admin key, kept in Secrets Manager (never in the template, the code or a log line)."""

from __future__ import annotations

import hmac

from sentiment_common.errors import ServiceUnavailableError

BEARER = "bearer "


def bearer_token(authorization: str | None) -> str | None:
    """The credential in ``Authorization: Bearer <token>`` (scheme case-insensitive), else None."""
    value = (authorization or "").strip()
    if value[: len(BEARER)].lower() != BEARER:
        return None
    return value[len(BEARER) :].strip() or None


class CachedSecret:
    """A secret compared with what a caller sends: the admin key, CloudFront's origin header."""

    what = "the secret"  # named in the 503 when it cannot be read

    def __init__(self, secret_id: str, cache_seconds: int) -> None:
        self._secret_id = secret_id
        self._cache_seconds = cache_seconds

    def _value(self) -> str:
        # Powertools caches the value for ``cache_seconds``; imported here so routes that need no
        # secret do not pay for it at cold start.
        from aws_lambda_powertools.utilities.parameters import get_secret  # noqa: PLC0415
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError  # noqa: PLC0415

        try:
            value = get_secret(self._secret_id, max_age=self._cache_seconds)
        except GetParameterError as error:
            raise ServiceUnavailableError(f"{self.what} could not be read; try again shortly") from error
        return str(value).strip()

    def matches(self, candidate: str) -> bool:
        """Compared in constant time, so the answer's timing says nothing about the value."""
        return hmac.compare_digest(candidate.strip().encode(), self._value().encode())


class AdminKey(CachedSecret):
    what = "the admin key"
