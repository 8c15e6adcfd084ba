"""Explanations by occlusion: faithful to the model, bounded in cost, and pointing at the words that decide."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from sentiment_model.explain import MAX_EXPLAINED, MAX_SPANS, TOKEN, spans, without
from sentiment_model.serving import InputError, LoadedModel, load_model, parse_input, predict, predict_explained

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "model_training" / "data" / "golden"


def test_a_text_is_cut_into_words_and_punctuation_in_order() -> None:
    text = "Don't buy it!!! Worst :( ever"
    ranges, size = spans(text)
    assert [text[start:end] for start, end in ranges] == ["Don't", "buy", "it", "!!!", "Worst", ":(", "ever"]
    assert size == 1
    assert without(text, *ranges[4]) == "Don't buy it!!! :( ever"


def test_a_long_text_is_cut_into_at_most_max_spans_groups_that_cover_every_word() -> None:
    text = " ".join(f"word{n}" for n in range(500))
    ranges, size = spans(text)
    assert len(ranges) <= MAX_SPANS
    assert size == 11  # ceil(500 / 48)
    covered = " ".join(text[start:end] for start, end in ranges)
    assert covered == text


@pytest.fixture(scope="module", params=["encoder", "tfidf"])
def model(request: pytest.FixtureRequest, model_dir: Path, tfidf_model_dir: Path) -> LoadedModel:
    return load_model(str(model_dir if request.param == "encoder" else tfidf_model_dir))


def label_without(model: LoadedModel, text: str, token: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = predict(model, [without(text, token["start"], token["end"])])[0]
    return answer


def test_each_weight_is_the_drop_of_the_labels_probability_when_its_word_is_removed(model: LoadedModel) -> None:
    texts = ["I love this phone", "The service was terrible, never again", "The meeting is at 3pm"]
    answers = predict_explained(model, texts)
    for text, answer in zip(texts, answers, strict=True):
        explanation = answer["explanation"]
        assert explanation["label"] == answer["label"]
        assert explanation["method"] == "occlusion"
        assert [token["text"] for token in explanation["tokens"]] == TOKEN.findall(text)
        for token in explanation["tokens"]:
            again = label_without(model, text, token)["scores"][answer["label"]]
            assert token["weight"] == pytest.approx(answer["confidence"] - again, abs=2e-6)


def short_golden_texts(model: LoadedModel, count: int) -> list[str]:
    """Short real texts (2–6 words) the model calls positive or negative."""
    texts = [row["text"] for name in ("reviews", "tweets") for row in csv.DictReader((GOLDEN / f"{name}.csv").open())]
    short = [text for text in texts if 2 <= len(TOKEN.findall(text)) <= 6]
    random.Random(1).shuffle(short)
    labels = predict(model, short[:300])
    return [text for text, answer in zip(short, labels, strict=False) if answer["label"] != "neutral"][:count]


def test_removing_the_top_word_flips_the_label_far_more_often_than_removing_another(model: LoadedModel) -> None:
    sample = short_golden_texts(model, 30)
    top_flips = other_flips = 0
    for text in sample:
        answer = predict_explained(model, [text])[0]
        tokens = answer["explanation"]["tokens"]
        top = max(tokens, key=lambda token: token["weight"])
        other = random.Random(text).choice([token for token in tokens if token is not top])
        top_flips += label_without(model, text, top)["label"] != answer["label"]
        other_flips += label_without(model, text, other)["label"] != answer["label"]
    assert len(sample) == 30
    assert top_flips >= 10, (top_flips, other_flips)
    assert top_flips >= 3 * max(other_flips, 1), (top_flips, other_flips)


def test_explaining_is_json_only_and_bounded() -> None:
    request = parse_input(orjson.dumps({"instances": ["fine"], "explain": True}), "application/json")
    assert (request.texts, request.explain) == (["fine"], True)
    assert parse_input(b"fine", "text/plain").explain is False
    with pytest.raises(InputError) as too_many:
        parse_input(orjson.dumps({"instances": ["a"] * (MAX_EXPLAINED + 1), "explain": True}), "application/json")
    assert too_many.value.status == 413
    with pytest.raises(InputError) as not_a_flag:
        parse_input(orjson.dumps({"instances": ["a"], "explain": "yes"}), "application/json")
    assert not_a_flag.value.status == 400
    assert "explain" in not_a_flag.value.message
