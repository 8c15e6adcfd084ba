"""Comments through the API function: classified by the real model, stored in the template's table."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from tests.integration.api.conftest import Stack


def test_a_comment_is_classified_stored_and_read_back(api: Stack, model_version: str) -> None:
    created = api.call("POST", "/comments", {"comment": "  An absolute delight, I loved every minute.  "})

    assert created.status == 201
    body = created.body
    assert body["sentiment"] == "positive"
    assert body["status"] == "classified"
    assert body["original_comment"] == "An absolute delight, I loved every minute."
    assert body["model_version"] == model_version
    assert sum(body["scores"].values()) == pytest.approx(1, abs=1e-4)
    assert body["confidence"] == max(body["scores"].values())
    assert body["score"] == pytest.approx(body["scores"]["positive"] - body["scores"]["negative"], abs=1e-5)

    read = api.call("GET", f"/comments/{body['comment_id']}")
    assert read.status == 200
    assert read.body == body
    assert len(api.items("CommentsTable")) == 1


def test_text_is_accepted_as_an_alias_of_comment(api: Stack) -> None:
    created = api.call("POST", "/comments", {"text": "Terrible service, never again"})
    assert created.status == 201
    assert created.body["sentiment"] == "negative"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "comment"),
        ({"comment": ""}, "comment"),
        ({"comment": "     "}, "comment"),
        ({"comment": "x" * 5001}, "comment"),
        ({"comment": 42}, "comment"),
        ({"comment": ["a"]}, "comment"),
        ({"comment": "fine", "extra": 1}, "extra"),
        ([], "body"),
    ],
)
def test_invalid_comments_get_422_naming_the_field_and_store_nothing(api: Stack, body: object, field: str) -> None:
    answer = api.call("POST", "/comments", body)

    assert answer.status == 422
    assert field in answer.body["message"]
    assert answer.body["details"]
    assert api.items("CommentsTable") == []


def test_5000_characters_after_trimming_is_accepted(api: Stack) -> None:
    assert api.call("POST", "/comments", {"comment": " " + "a" * 5000 + " "}).status == 201


def test_malformed_json_gets_400(api: Stack) -> None:
    answer = api.call("POST", "/comments", raw_body=b'{"comment": "unfinished')
    assert answer.status == 400
    assert "JSON" in answer.body["message"]
    assert api.items("CommentsTable") == []


def test_non_utf8_body_gets_400(api: Stack) -> None:
    answer = api.call("POST", "/comments", raw_body=b'{"comment": "caf\xe9"}')
    assert answer.status == 400
    assert api.items("CommentsTable") == []


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",  # Powertools would read it as a form
        "multipart/form-data",  # with no boundary, Powertools' own parsing fails
        "multipart/form-data; boundary=x",
    ],
)
@pytest.mark.parametrize("path", ["/comments", "/comments/batch", "/feedback"])
def test_wrong_content_type_gets_415(api: Stack, path: str, content_type: str) -> None:
    answer = api.call("POST", path, raw_body=b'{"comment": "hello"}', headers={"Content-Type": content_type})
    assert answer.status == 415
    assert answer.body["message"] == f"send Content-Type: application/json, not {content_type.partition(';')[0]}"
    assert api.items("CommentsTable") == []
    assert api.objects("feedback/") == []


def test_a_body_over_one_mebibyte_gets_413(api: Stack) -> None:
    padded = b'{"comment": "fine"' + b" " * 1_100_000 + b"}"
    answer = api.call("POST", "/comments", raw_body=padded)
    assert answer.status == 413
    assert api.items("CommentsTable") == []


def test_path_parameters_are_percent_decoded(api: Stack) -> None:
    answer = api.call("GET", "/comments/no%20such%20id")
    assert answer.status == 404
    assert answer.body["message"] == "no comment with id 'no such id'"
    long_but_allowed = "%C3%A9" * 30  # 30 characters once decoded; the limit is 80
    assert api.call("GET", f"/training/{long_but_allowed}").status == 404


def test_unknown_comment_is_404(api: Stack) -> None:
    answer = api.call("GET", "/comments/does-not-exist")
    assert answer.status == 404
    assert "does-not-exist" in answer.body["message"]


def test_unknown_route_is_404_in_the_error_shape(api: Stack) -> None:
    answer = api.call("GET", "/nowhere")
    assert answer.status == 404
    assert set(answer.body) == {"message", "details"}


def test_a_comment_past_the_retention_is_gone_before_dynamodb_deletes_it(api: Stack) -> None:
    old = api.call("POST", "/comments", {"comment": "Lovely staff"}).body
    kept = api.call("POST", "/comments", {"comment": "Slow delivery"}).body
    stored = {item["comment_id"]: item for item in api.items("CommentsTable")}
    made = datetime.fromisoformat(old["timestamp"])
    # The template's default retention, 365 days, in epoch seconds: DynamoDB's TTL attribute.
    assert int(stored[old["comment_id"]]["expires_at"]) == int((made + timedelta(days=365)).timestamp())

    # A year on: expired, still in the table (TTL deletes within days).
    api.table("CommentsTable").update_item(
        Key={"comment_id": old["comment_id"]},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": int(time.time()) - 1},
    )

    assert api.call("GET", f"/comments/{old['comment_id']}").status == 404
    assert [item["comment_id"] for item in api.call("GET", "/comments").body["items"]] == [kept["comment_id"]]
    assert api.call("GET", f"/comments/{old['comment_id']}/explanation").status == 404


GERMAN = "Das ist das schlechteste Handy, das ich je hatte."  # the worst phone I ever had
ENGLISH = "The worst phone I ever had."


def test_a_comment_in_a_language_the_model_was_not_trained_for_is_stored_and_marked(api: Stack) -> None:
    german = api.call("POST", "/comments", {"comment": GERMAN})
    english = api.call("POST", "/comments", {"comment": ENGLISH})

    assert (german.status, english.status) == (201, 201)
    assert (german.body["language"], german.body["supported"]) == ("de", False)
    assert (english.body["language"], english.body["supported"]) == ("en", True)
    assert german.body["sentiment"] is not None  # scored all the same: the mark says it is a guess
    assert api.call("GET", f"/comments/{german.body['comment_id']}").body == german.body
    listed = {item["comment_id"]: item for item in api.call("GET", "/comments").body["items"]}
    assert listed == {german.body["comment_id"]: german.body, english.body["comment_id"]: english.body}
    by_label = api.call("GET", "/comments", query={"sentiment": german.body["sentiment"]}).body["items"]
    assert german.body in by_label
    queue = api.call("GET", "/comments", query={"needs_review": "true"}).body
    assert [item["comment_id"] for item in queue["items"]] == [english.body["comment_id"]]
    assert queue["remaining"] == 1
    today = api.call("GET", "/monitoring", query={"days": "1"}).body["daily"][-1]
    assert today["unsupported"] == {"de": 1}
    assert sum(today["comments"].values()) == 1
    assert today["mean_confidence"] == english.body["confidence"]


def test_a_label_on_a_comment_the_model_could_not_read_counts_in_no_agreement(api: Stack) -> None:
    german = api.call("POST", "/comments", {"comment": GERMAN}).body
    wrong = "positive" if german["sentiment"] != "positive" else "negative"

    assert api.call("POST", "/feedback", {"comment_id": german["comment_id"], "label": wrong}).status == 201

    today = api.call("GET", "/monitoring", query={"days": "1"}).body["daily"][-1]
    assert (today["feedback"], today["agreement"]) == (0, None)
