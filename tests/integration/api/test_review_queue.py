"""The review queue: unlabelled classified comments, most uncertain first, paged stably, from an index.

A pending comment joins it once classified unless someone labelled it meanwhile: the pending worker's
logic (``tests/unit/test_pending_logic.py``) and the comments store's contract
(``tests/contract/test_comments_contract.py``, ``classify_pending``) hold that."""

from __future__ import annotations

from typing import Any

from sentiment_common.records import PublicLabels
from tests.integration.api.conftest import Stack

TEXTS = [
    "A wonderful, moving film",
    "Awful, boring and far too long",
    "It was fine I guess, not sure",
    "The delivery came on Tuesday",
    "Not bad, not great either",
    "Best purchase I have made all year",
    "I expected more but it works",
    "Terrible support, never again",
]


def margin(comment: dict[str, Any]) -> float:
    first, second = sorted(comment["scores"].values(), reverse=True)[:2]
    return round(first - second, 6)


def queue(api: Stack, **query: str) -> list[dict[str, Any]]:
    """Every page of the queue."""
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = api.call(
            "GET", "/comments", query={"needs_review": "true", **query, **({"next_token": token} if token else {})}
        )
        assert page.status == 200, page.body
        found += page.body["items"]
        token = page.body["next_token"]
        if token is None:
            return found


def test_the_queue_holds_every_unlabelled_comment_most_uncertain_first(api: Stack) -> None:
    created = api.call("POST", "/comments/batch", {"comments": TEXTS}).body["results"]

    listed = queue(api, limit="3")

    by_hand = sorted(created, key=lambda comment: (margin(comment), comment["comment_id"]))
    assert [item["comment_id"] for item in listed] == [comment["comment_id"] for comment in by_hand]
    assert all(item["uncertainty"] == round(1 - margin(item), 6) for item in listed)
    uncertainties = [item["uncertainty"] for item in listed]
    assert uncertainties == sorted(uncertainties, reverse=True)
    assert len(set(uncertainties)) > 4  # the texts really differ, so the order means something


def test_a_comment_leaves_the_queue_when_labelled(api: Stack) -> None:
    api.public_labels(PublicLabels.TRAIN)
    created = api.call("POST", "/comments/batch", {"comments": TEXTS[:4]}).body["results"]
    labelled = created[2]["comment_id"]

    assert api.call("POST", "/feedback", {"comment_id": labelled, "label": "neutral"}).status == 201

    remaining = [item["comment_id"] for item in queue(api)]
    assert labelled not in remaining
    assert sorted(remaining) == sorted(
        comment["comment_id"] for comment in created if comment["comment_id"] != labelled
    )
    # The listing still has it, with its label.
    assert api.call("GET", f"/comments/{labelled}").body["feedback"]["label"] == "neutral"


def test_paging_is_stable_while_new_comments_arrive(api: Stack) -> None:
    before = api.call("POST", "/comments/batch", {"comments": TEXTS}).body["results"]

    first = api.call("GET", "/comments", query={"needs_review": "true", "limit": "3"}).body
    arriving = api.call("POST", "/comments/batch", {"comments": [f"{text} (again)" for text in TEXTS]}).body["results"]
    token = first["next_token"]
    rest: list[dict[str, Any]] = []
    while token:
        page = api.call("GET", "/comments", query={"needs_review": "true", "limit": "3", "next_token": token}).body
        rest += page["items"]
        token = page["next_token"]

    seen = [item["comment_id"] for item in first["items"] + rest]
    assert len(seen) == len(set(seen))  # nothing twice
    assert {comment["comment_id"] for comment in before} <= set(seen)  # nothing that was there skipped
    keys = [(margin(item), item["comment_id"]) for item in first["items"] + rest]
    assert keys == sorted(keys)
    # A newcomer shows up on a later page only where it sorts after the page already read.
    cursor = max((margin(item), item["comment_id"]) for item in first["items"])
    newcomers = {comment["comment_id"] for comment in arriving}
    assert {item["comment_id"] for item in rest if item["comment_id"] in newcomers} == {
        comment["comment_id"] for comment in arriving if (margin(comment), comment["comment_id"]) > cursor
    }


def test_the_queue_refuses_a_sentiment_filter_and_foreign_tokens(api: Stack) -> None:
    api.call("POST", "/comments/batch", {"comments": TEXTS[:3]})
    combined = api.call("GET", "/comments", query={"needs_review": "true", "sentiment": "negative"})
    assert combined.status == 400
    assert "needs_review" in combined.body["message"]

    listing_token = api.call("GET", "/comments", query={"limit": "1"}).body["next_token"]
    foreign = api.call("GET", "/comments", query={"needs_review": "true", "next_token": listing_token})
    assert foreign.status == 400
    assert "next_token" in foreign.body["message"]
    assert api.call("GET", "/comments", query={"needs_review": "maybe"}).status == 422
