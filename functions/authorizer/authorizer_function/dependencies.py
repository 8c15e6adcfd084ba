"""What the authorizers build on their first call, then keep (``sentiment_common.dependencies``): the
secrets they compare against, with the values those cache, and the reviewers' store. Each authorizer is
a function of its own and builds only what it uses, from the settings its template entry gives it."""

from __future__ import annotations

from sentiment_common.dal.origin_secret import OriginSecret
from sentiment_common.dal.reviewers import DynamoDbReviewers
from sentiment_common.dal.secrets import AdminKey
from sentiment_common.dependencies import dependency
from sentiment_common.settings import AdminSettings, OriginSettings, ReviewerAuthorizerSettings


@dependency
def admin_key() -> AdminKey:
    settings = AdminSettings.from_environment()
    return AdminKey(settings.admin_api_key_secret, settings.admin_key_cache_seconds)


@dependency
def origin_secret() -> OriginSecret:
    settings = OriginSettings.from_environment()
    return OriginSecret(settings.origin_verify_secret, settings.origin_secret_cache_seconds)


@dependency
def reviewers() -> DynamoDbReviewers:
    return DynamoDbReviewers(ReviewerAuthorizerSettings.from_environment().registry_table)
