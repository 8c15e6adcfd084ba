"""Preprocessing: placeholders, tokens, NLTK's negation rule, lexicon cues, n-grams."""

from __future__ import annotations

import random

import pandas as pd
import pytest
from nltk.sentiment.util import mark_negation as nltk_mark_negation

from sentiment_model import text
from tests.conftest import DATA


def test_links_handles_and_numbers_become_placeholders() -> None:
    normalized = text.normalize("@United lost my bag!!! See https://t.co/abc123 flight 1086")
    assert normalized == "@user lost my bag!!! see url flight 0"


def test_elongated_words_are_shortened_like_nltk() -> None:
    assert text.normalize("sooooo goooood") == "sooo goood"


def test_tokens_keep_emoticons_hashtags_and_contractions_whole() -> None:
    tokens = text.tokenize("I don't like it :-( #fail :D")
    assert tokens == ["i", "don't", "like", "it", ":-(", "#fail", ":d"]


def test_negation_scope_runs_to_clause_punctuation() -> None:
    features = text.word_features("This is not good. Great ending")
    assert "good_NEG" in features
    assert "great" in features and "great_NEG" not in features
    assert "lex:pos2_NEG" in features or "lex:pos1_NEG" in features or "lex:pos3_NEG" in features


def test_negation_marking_matches_nltk_on_real_texts() -> None:
    rows = pd.concat([pd.read_csv(DATA / "base" / "reviews.csv"), pd.read_csv(DATA / "base" / "tweets.csv")])
    sample = random.Random(3).sample(rows["text"].tolist(), 1500)
    for sentence in sample:
        tokens = text.tokenize(sentence)
        ours = [token + "_NEG" if negated else token for token, negated in text.mark_negation(tokens)]
        assert ours == nltk_mark_negation(tokens), sentence


@pytest.mark.parametrize(("word", "cue"), [("wonderful", "lex:pos"), ("horrible", "lex:neg")])
def test_lexicon_words_add_a_valence_cue(word: str, cue: str) -> None:
    assert any(feature.startswith(cue) for feature in text.word_features(f"a {word} film"))


def test_unknown_words_add_no_valence_cue() -> None:
    assert not [f for f in text.word_features("the table is brown") if f.startswith("lex:")]


def test_char_features_are_the_word_ngrams_in_order() -> None:
    sentence = "Not bad at all, @bob!"
    expected = [gram for word in text.char_words(sentence) for gram in text.word_char_ngrams(word)]
    assert text.char_features(sentence) == expected
    assert " no" in expected and "not " in expected


def test_stems_are_remembered_and_can_be_preloaded() -> None:
    text.remember_stems({"zzyzxing": "zzyzx-preloaded"})
    assert "zzyzx-preloaded" in text.word_features("zzyzxing")
