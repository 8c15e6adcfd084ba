"""Batches answered by position; listings newest first, filtered and paginated."""

from __future__ import annotations

import base64
import json

from tests.integration.api.conftest import Stack

POSITIVE = "A wonderful, moving film"
NEGATIVE = "Awful, boring and far too long"


def test_a_batch_answers_each_text_by_position_and_stores_only_valid_ones(api: Stack) -> None:
    answer = api.call("POST", "/comments/batch", {"comments": [POSITIVE, "   ", NEGATIVE, "x" * 5001]})

    assert answer.status == 200
    results = {item["index"]: item for item in answer.body["results"]}
    assert set(results) == {0, 2}
    assert results[0]["sentiment"] == "positive"
    assert results[2]["sentiment"] == "negative"
    assert [error["index"] for error in answer.body["errors"]] == [1, 3]
    assert "empty" in answer.body["errors"][0]["message"]
    assert "5000" in answer.body["errors"][1]["message"]
    assert len(api.items("CommentsTable")) == 2


def test_a_batch_over_25_is_refused_whole(api: Stack) -> None:
    answer = api.call("POST", "/comments/batch", {"comments": ["fine"] * 26})
    assert answer.status == 422
    assert "comments" in answer.body["message"]
    assert api.items("CommentsTable") == []


def test_listing_is_newest_first_filtered_and_paginated(api: Stack) -> None:
    created = [api.call("POST", "/comments", {"comment": text}).body for text in [POSITIVE, NEGATIVE] * 3]
    newest_first = [comment["comment_id"] for comment in reversed(created)]

    first = api.call("GET", "/comments", query={"limit": "4"})
    assert first.status == 200
    assert [item["comment_id"] for item in first.body["items"]] == newest_first[:4]
    second = api.call("GET", "/comments", query={"limit": "4", "next_token": first.body["next_token"]})
    assert [item["comment_id"] for item in second.body["items"]] == newest_first[4:]

    negatives = api.call("GET", "/comments", query={"sentiment": "negative"})
    assert [item["comment_id"] for item in negatives.body["items"]] == [
        comment["comment_id"] for comment in reversed(created) if comment["sentiment"] == "negative"
    ]
    assert negatives.body["next_token"] is None


def test_bad_listing_parameters_get_4xx(api: Stack) -> None:
    assert api.call("GET", "/comments", query={"limit": "0"}).status == 422
    assert api.call("GET", "/comments", query={"limit": "101"}).status == 422
    assert api.call("GET", "/comments", query={"sentiment": "happy"}).status == 422
    garbage = api.call("GET", "/comments", query={"next_token": "not-a-token"})
    assert garbage.status == 400
    assert "next_token" in garbage.body["message"]


def test_a_token_from_another_filter_is_refused(api: Stack) -> None:
    for text in [NEGATIVE, NEGATIVE]:
        api.call("POST", "/comments", {"comment": text})
    page = api.call("GET", "/comments", query={"sentiment": "negative", "limit": "1"})
    answer = api.call("GET", "/comments", query={"sentiment": "positive", "next_token": page.body["next_token"]})
    assert answer.status == 400


def forged(token: str, **values: str) -> str:
    """The token with some of its key values changed, as a caller could."""
    key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return base64.urlsafe_b64encode(json.dumps(key | values).encode()).decode().rstrip("=")


def test_a_token_forged_for_another_partition_is_a_400_naming_next_token(api: Stack) -> None:
    # Given page tokens of the comments and of the runs, each rewritten to name another partition: DynamoDB
    # would refuse them with a ValidationException, a 500 and a server-error alarm if they reached it
    for text in [POSITIVE, NEGATIVE, NEGATIVE]:
        api.call("POST", "/comments", {"comment": text})
    everything = api.call("GET", "/comments", query={"limit": "1"}).body["next_token"]
    negatives = api.call("GET", "/comments", query={"sentiment": "negative", "limit": "1"}).body["next_token"]
    attempts = [
        ("/comments", {}, forged(everything, entity="MODEL")),
        ("/comments", {"sentiment": "negative"}, forged(negatives, sentiment="positive")),
        ("/training", {}, forged(base64.urlsafe_b64encode(b'{"pk": "RUN", "sk": "run-000009"}').decode(), pk="MODEL")),
    ]
    for path, query, token in attempts:
        # When each continues its listing
        answer = api.call("GET", path, query={**query, "next_token": token})

        # Then it is the caller's mistake, and the answer says which parameter
        assert answer.status == 400, (path, answer.body)
        assert "next_token" in answer.body["message"]
        assert answer.body["details"][0]["loc"] == ["query", "next_token"]


def test_one_comment_and_a_batch_follow_the_same_text_rule(api: Stack) -> None:
    """Trimmed of Unicode's White_Space, then 1–5000 characters, whichever route the text comes by.
    ("\x1c" is not White_Space, though Python's str.strip() removes it.)"""
    texts = ["\x1c", "\u3000", "\u2003ok\u2003", "x" * 5001, "\u3000" + "x" * 5000 + "\u3000"]

    single = [api.call("POST", "/comments", {"comment": text}).status for text in texts]
    batch = api.call("POST", "/comments/batch", {"comments": texts}).body

    assert single == [201, 422, 201, 422, 201]
    assert sorted(item["index"] for item in batch["results"]) == [0, 2, 4]
    assert {item["index"]: item["original_comment"] for item in batch["results"]}[2] == "ok"
    assert [error["index"] for error in batch["errors"]] == [1, 3]
    assert "empty" in batch["errors"][0]["message"]
    assert "5001 characters" in batch["errors"][1]["message"]
