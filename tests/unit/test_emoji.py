"""Emoji are read as what they mean: the encoder's vocabulary has almost none of them, so each is spelled
out as its name from VADER's emoji lexicon before encoding."""

from __future__ import annotations

import pytest

from sentiment_model.emoji import NAMES, spell_out
from sentiment_model.encoder import BUNDLED, Encoder, prepare


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("😡😡😡", "pouting face pouting face pouting face"),
        ("🙂 thanks", "slightly smiling face thanks"),
        ("Great 👍🏽!", "Great thumbs up !"),  # a skin tone says nothing of sentiment
        ("Great 👍!", "Great thumbs up !"),
        ("Das ist schön ❤️", "Das ist schön red heart"),  # with the emoji presentation selector
        ("Das ist schön ❤", "Das ist schön red heart"),  # and without it
        ("us 👩‍❤️‍👨", "us couple with heart"),  # one emoji of three joined, not three
        ("Step 1️⃣ done", "Step 1⃣ done"),  # keycaps stay the digits they show
    ],
)
def test_an_emoji_is_read_as_its_name(text: str, expected: str) -> None:
    assert prepare(text) == expected


@pytest.mark.parametrize("text", ["plain words, 100% ASCII :-)", "Überhaupt nicht gut", "这个手机非常好", "naïve café"])
def test_a_text_without_emoji_is_left_as_it_is(text: str) -> None:
    assert spell_out(text) == text


def test_the_lexicon_is_the_pinned_packages_and_names_every_common_face() -> None:
    assert len(NAMES) > 1500
    assert {NAMES["😀"], NAMES["😭"], NAMES["😡"], NAMES["🙂"]} == {
        "grinning face",
        "loudly crying face",
        "pouting face",
        "slightly smiling face",
    }


def test_the_encoder_no_longer_reads_emoji_as_unknown() -> None:
    # Before: "😡" and "😀" were both [UNK], so the two texts had one embedding.
    encoder = Encoder(BUNDLED, threads=1)
    angry, happy = encoder.encode(["😡", "😀"])
    assert float(angry @ happy) < 0.9
