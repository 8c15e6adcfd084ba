"""The API's CORS policy: the one origin the settings allow, read when a response first needs it."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.event_handler import CORSConfig

# CORS also lets in these request headers, and browsers may keep a preflight's answer this long (seconds).
CORS_HEADERS = ["Idempotency-Key", "Authorization"]
CORS_MAX_AGE = 600


def cors_policy(allowed_origin: str) -> CORSConfig:
    return CORSConfig(allow_origin=allowed_origin, allow_headers=CORS_HEADERS, max_age=CORS_MAX_AGE)


class DeferredCORS(CORSConfig):
    """The policy the resolver is given when it is made, at import. It answers as the policy ``build``
    returns does (its own defaults go unused), so the allowed origin, a setting, is read when a response
    first needs it."""

    def __init__(self, build: Callable[[], CORSConfig]) -> None:
        super().__init__()
        self._build = build

    def to_dict(self, origin: str | None) -> dict[str, str]:
        return self._build().to_dict(origin)

    def allowed_origin(self, extracted_origin: str) -> str | None:
        return self._build().allowed_origin(extracted_origin)
