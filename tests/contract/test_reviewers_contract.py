"""The reviewers, the DynamoDB adapter and the fake alike: a key found by its digest only while its
reviewer is active, a name given out once unless revoked, withdrawal that lasts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sentiment_common.dal.reviewers import DynamoDbReviewers
from sentiment_common.errors import ConflictError, NotFoundError
from sentiment_common.ports import Reviewers
from sentiment_common.reviewers import key_digest, new_key
from tests.contract.conftest import create_table, implementation
from tests.fakes.reviewers import FakeReviewers

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)


@pytest.fixture(params=["dynamodb", "fake"])
def reviewers(request: pytest.FixtureRequest) -> Reviewers:
    return implementation(request, FakeReviewers, lambda: DynamoDbReviewers(create_table("RegistryTable")))


def test_a_created_reviewers_key_is_found_by_its_digest(reviewers: Reviewers) -> None:
    key = new_key()

    created = reviewers.create("ana", key_digest(key), T0)

    assert (created.name, created.created_at, created.active) == ("ana", T0, True)
    assert reviewers.reviewer_for(key_digest(key)) == "ana"
    assert reviewers.reviewer_for(key_digest(new_key())) is None
    assert reviewers.get("ana") == created


def test_an_active_name_is_not_given_out_twice(reviewers: Reviewers) -> None:
    first = new_key()
    reviewers.create("ana", key_digest(first), T0)

    with pytest.raises(ConflictError):
        reviewers.create("ana", key_digest(new_key()), LATER)

    assert reviewers.reviewer_for(key_digest(first)) == "ana"
    assert [reviewer.name for reviewer in reviewers.list()] == ["ana"]


def test_a_revoked_key_is_found_no_more_and_revoking_again_changes_nothing(reviewers: Reviewers) -> None:
    key = new_key()
    reviewers.create("ana", key_digest(key), T0)

    revoked = reviewers.revoke("ana", LATER)
    again = reviewers.revoke("ana", LATER + timedelta(hours=1))

    assert reviewers.reviewer_for(key_digest(key)) is None
    assert revoked.revoked_at == LATER
    assert again == revoked
    assert reviewers.withdrawn() == set()


def test_a_revoked_reviewer_may_get_a_new_key_and_the_old_one_stays_dead(reviewers: Reviewers) -> None:
    old, new = new_key(), new_key()
    reviewers.create("ana", key_digest(old), T0)
    reviewers.revoke("ana", T0)

    again = reviewers.create("ana", key_digest(new), LATER)

    assert (again.active, again.created_at) == (True, LATER)
    assert reviewers.reviewer_for(key_digest(new)) == "ana"
    assert reviewers.reviewer_for(key_digest(old)) is None


def test_withdrawal_revokes_the_key_lists_the_name_and_lasts(reviewers: Reviewers) -> None:
    key = new_key()
    reviewers.create("ana", key_digest(key), T0)
    reviewers.create("ben", key_digest(new_key()), T0)

    withdrawn = reviewers.withdraw("ana", LATER)
    again = reviewers.withdraw("ana", LATER + timedelta(hours=1))

    assert (withdrawn.withdrawn_at, withdrawn.revoked_at) == (LATER, LATER)
    assert again == withdrawn
    assert reviewers.withdrawn() == {"ana"}
    assert reviewers.reviewer_for(key_digest(key)) is None
    with pytest.raises(ConflictError):
        reviewers.create("ana", key_digest(new_key()), LATER)


def test_unknown_names_are_not_found(reviewers: Reviewers) -> None:
    for act in (
        lambda: reviewers.get("nobody"),
        lambda: reviewers.revoke("nobody", T0),
        lambda: reviewers.withdraw("nobody", T0),
    ):
        with pytest.raises(NotFoundError):
            act()
    assert reviewers.list() == []


def test_reviewers_are_listed_by_name(reviewers: Reviewers) -> None:
    for name in ("cy", "ana", "ben"):
        reviewers.create(name, key_digest(new_key()), T0)
    reviewers.revoke("ben", LATER)

    listed = reviewers.list()

    assert [(reviewer.name, reviewer.active) for reviewer in listed] == [("ana", True), ("ben", False), ("cy", True)]
