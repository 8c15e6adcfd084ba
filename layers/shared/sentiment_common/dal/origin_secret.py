"""The value CloudFront adds to every request it forwards to the API, kept in Secrets Manager."""

from __future__ import annotations

import hmac

from sentiment_common.errors import ServiceUnavailableError


class OriginSecret:
    def __init__(self, secret_id: str, cache_seconds: int) -> None:
        self._secret_id = secret_id
        self._cache_seconds = cache_seconds

    def _value(self) -> str:
        # Powertools caches the value for ``cache_seconds``, so most calls make no request.
        from aws_lambda_powertools.utilities.parameters import get_secret  # noqa: PLC0415
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError  # noqa: PLC0415

        try:
            value = get_secret(self._secret_id, max_age=self._cache_seconds)
        except GetParameterError as error:
            raise ServiceUnavailableError("the origin secret could not be read; try again shortly") from error
        return str(value).strip()

    def matches(self, candidate: str) -> bool:
        """Compared in constant time, so the answer's timing says nothing about the value."""
        return hmac.compare_digest(candidate.strip().encode(), self._value().encode())
