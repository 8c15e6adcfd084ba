"""GET /comments/{id}/explanation: the serving model's reasons, computed by the container."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiment_common.inference import ProbedModel
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
    assert (body["language"], body["supported"]) == (comment["language"], comment["supported"]) == ("en", True)
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


def test_a_second_explanation_is_read_back_not_asked_of_the_model(
    api: Stack, model_version: str, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metadata = json.loads((model_dir / "metadata.json").read_text())
    api.models.ensure_champion(model_version, "s3://bucket/models/x/model.tar.gz", "ab" * 32, metadata)
    comment = api.call("POST", "/comments", {"comment": "Worst airline ever, they lost my bag"}).body
    first = api.call("GET", f"/comments/{comment['comment_id']}/explanation")

    asked: list[str] = []
    monkeypatch.setattr(ProbedModel, "explain", lambda _model, text: asked.append(text))
    again = api.call("GET", f"/comments/{comment['comment_id']}/explanation")

    assert (first.status, again.status) == (200, 200)
    assert again.body == first.body
    assert asked == []
    # Kept on the comment alone: the listing's indexes do not carry it.
    assert api.call("GET", "/comments").body["items"][0] == api.call("GET", f"/comments/{comment['comment_id']}").body


def test_the_explanation_of_a_comment_in_another_language_says_it_explains_a_guess(api: Stack) -> None:
    comment = api.call("POST", "/comments", {"comment": "Das ist das schlechteste Handy, das ich je hatte."}).body

    body = api.call("GET", f"/comments/{comment['comment_id']}/explanation").body

    assert (body["language"], body["supported"]) == ("de", False)
