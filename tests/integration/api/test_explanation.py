"""GET /comments/{id}/explanation: the serving model's reasons, computed by the container."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import Stack


def test_an_explanation_weighs_each_word_as_leaving_it_out_changes_the_label(api: Stack, model_version: str) -> None:
    text = "Worst airline ever, they lost my bag"
    comment = api.call("POST", "/comments", {"comment": text}).body

    answer = api.call("GET", f"/comments/{comment['comment_id']}/explanation")

    assert answer.status == 200
    body = answer.body
    assert (body["comment_id"], body["original_comment"], body["model_version"]) == (
        comment["comment_id"],
        text,
        model_version,
    )
    assert (body["sentiment"], body["confidence"]) == (comment["sentiment"], pytest.approx(comment["confidence"]))
    assert (body["method"], body["tokens_per_span"]) == ("occlusion", 1)
    assert [token["text"] for token in body["tokens"]] == ["Worst", "airline", "ever", ",", "they", "lost", "my", "bag"]
    assert all(text[token["start"] : token["end"]] == token["text"] for token in body["tokens"])
    # The top word's weight is what the label loses without it: score the shorter text as a comment.
    top = max(body["tokens"], key=lambda token: token["weight"])
    shorter = f"{text[: top['start']].rstrip()} {text[top['end'] :].lstrip()}".strip()
    again = api.call("POST", "/comments", {"comment": shorter}).body
    assert top["weight"] == pytest.approx(comment["confidence"] - again["scores"][comment["sentiment"]], abs=1e-5)
    assert top["weight"] > 0


def test_an_unknown_comment_is_404_and_a_model_down_is_503_with_retry_after(api: Stack) -> None:
    assert api.call("GET", "/comments/nope/explanation").status == 404
    comment = api.call("POST", "/comments", {"comment": "Lovely staff"}).body

    api.model.stop()
    down = api.call("GET", f"/comments/{comment['comment_id']}/explanation")
    api.model.start()

    assert down.status == 503
    assert down.headers["Retry-After"]
    assert "explain" in down.body["message"]
    assert api.call("GET", f"/comments/{comment['comment_id']}/explanation").status == 200
