"""The value CloudFront adds to every request it forwards to the API, kept in Secrets Manager."""

from __future__ import annotations

from sentiment_common.dal.secrets import CachedSecret


class OriginSecret(CachedSecret):
    what = "the origin secret"
