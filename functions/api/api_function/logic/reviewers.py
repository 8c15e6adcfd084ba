"""Reviewers, as an admin manages them: issue a key, list, revoke, withdraw their labels."""

from __future__ import annotations

from api_function.services import Services
from sentiment_common.observability import logger
from sentiment_common.records import utc_now
from sentiment_common.reviewers import IssuedReviewer, Reviewer, key_digest, new_key


def create_reviewer(name: str, services: Services) -> IssuedReviewer:
    """A new key for ``name``: returned here, once; only its digest is stored."""
    key = new_key()
    reviewer = services.reviewers.create(name, key_digest(key), utc_now())
    logger.info("reviewer created", extra={"reviewer": name})
    return IssuedReviewer(reviewer=reviewer, key=key)


def list_reviewers(services: Services) -> list[Reviewer]:
    return services.reviewers.list()


def revoke_reviewer(name: str, services: Services) -> Reviewer:
    reviewer = services.reviewers.revoke(name, utc_now())
    logger.info("reviewer revoked", extra={"reviewer": name})
    return reviewer


def withdraw_reviewer(name: str, services: Services) -> Reviewer:
    """The next run leaves their labels out (prepare drops the withdrawn reviewers' labels)."""
    reviewer = services.reviewers.withdraw(name, utc_now())
    logger.info("reviewer withdrawn", extra={"reviewer": name})
    return reviewer
