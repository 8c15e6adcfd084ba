"""Input parsing by content type, and the output shape, without HTTP."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sentiment_model.serving import (
    MAX_INSTANCES,
    MAX_TEXT_CHARS,
    InputError,
    format_output,
    load_model,
    parse_input,
    predict,
)


def test_json_instances() -> None:
    assert parse_input(b'{"instances": ["good", "bad"]}', "application/json").texts == ["good", "bad"]


def test_json_with_charset_parameter() -> None:
    assert parse_input(b'{"instances": ["ok"]}', "application/json; charset=utf-8").texts == ["ok"]


def test_plain_text_is_one_text_per_line_blank_lines_ignored() -> None:
    assert parse_input("héllo there\n\nsecond line\n".encode(), "text/plain").texts == ["héllo there", "second line"]


def test_csv_quoted_fields_and_bare_commas() -> None:
    body = b'"great, really great"\nbad, very bad\n'
    assert parse_input(body, "text/csv").texts == ["great, really great", "bad, very bad"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b'["a"]', "application/json", 400, '"instances" list'),
        (b'{"texts": ["a"]}', "application/json", 400, '"instances" list'),
        (b'{"instances": "a"}', "application/json", 400, "must be a list"),
        (b'{"instances": []}', "application/json", 400, "no texts"),
        (b'{"instances": ["ok", 5, null]}', "application/json", 400, "2 of 3 texts are invalid"),
        (b'{"instances": ["   "]}', "application/json", 400, "1 of 1 texts are invalid"),
        (b"\n\n", "text/plain", 400, "no texts"),
        (b"\xff\xfe bad", "text/plain", 400, "not valid UTF-8"),
        (b"<a/>", "application/xml", 415, "application/xml"),
        (b"x", None, 415, "(none)"),
        (b"x", "text/plain; charset=latin-1", 415, "charset"),
    ],
)
def test_bad_input_is_refused_with_what_was_wrong(
    body: bytes, content_type: str | None, status: int, says: str
) -> None:
    with pytest.raises(InputError) as refused:
        parse_input(body, content_type)
    assert refused.value.status == status
    assert says in refused.value.message


def test_each_invalid_text_is_located() -> None:
    with pytest.raises(InputError) as refused:
        parse_input(orjson.dumps({"instances": ["fine", "", "x" * (MAX_TEXT_CHARS + 1), 3]}), "application/json")
    assert [d["loc"] for d in refused.value.details] == [["instances", 1], ["instances", 2], ["instances", 3]]
    assert "5001 characters" in refused.value.details[1]["msg"]


def test_limits_are_inclusive() -> None:
    texts = ["x" * MAX_TEXT_CHARS] * MAX_INSTANCES
    assert len(parse_input(orjson.dumps({"instances": texts}), "application/json").texts) == MAX_INSTANCES


def test_too_many_texts_is_413() -> None:
    with pytest.raises(InputError) as refused:
        parse_input(orjson.dumps({"instances": ["x"] * (MAX_INSTANCES + 1)}), "application/json")
    assert refused.value.status == 413


def test_a_text_in_a_language_the_model_was_not_trained_for_is_marked(model_dir: Path) -> None:
    texts = [
        "Das ist das schlechteste Handy, das ich je hatte.",
        "这是我用过的最差的手机。",
        "ok 👍",
        "Worst phone ever.",
    ]
    predictions = predict(load_model(str(model_dir)), texts)
    assert [(p["language"], p["supported"]) for p in predictions] == [
        ("de", False),
        ("zh", False),
        ("und", True),  # too few letters to tell
        ("en", True),
    ]
    assert all(p["label"] in {"negative", "neutral", "positive"} for p in predictions)  # scored all the same


def test_predictions_follow_the_contract(model_dir: Path, model_version: str) -> None:
    model = load_model(str(model_dir))
    predictions = orjson.loads(format_output(predict(model, ["an absolute joy", "dreadful and dull"])))["predictions"]
    assert [p["label"] for p in predictions] == ["positive", "negative"]
    for prediction in predictions:
        assert set(prediction) == {"label", "scores", "confidence", "model_version", "language", "supported"}
        assert prediction["language"] in {"en", "und"} and prediction["supported"] is True
        assert list(prediction["scores"]) == ["negative", "neutral", "positive"]
        assert sum(prediction["scores"].values()) == pytest.approx(1.0, abs=1e-9)
        assert prediction["confidence"] == max(prediction["scores"].values())
        assert prediction["model_version"] == model_version
