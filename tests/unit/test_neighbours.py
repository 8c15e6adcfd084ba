"""Where the new labels touch: which feedback is new to the champion, the nearest labelled texts, and
what the candidate changes there. Small hand-made vectors and scorers, no model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sentiment_model.data import LABELS
from sentiment_model.neighbours import compare, labelled_pool, nearest, new_labels, tfidf_vectorise

# Two directions of meaning: "praise of support" along x, "complaints about delays" along y.
VECTORS = {
    "BrandZed support is great #1": (1.0, 0.05),
    "BrandZed support is great #2": (1.0, 0.04),
    "support was great, fixed in minutes": (0.95, 0.1),
    "the agent solved it quickly, thanks": (0.9, 0.2),
    "great help from the support team": (0.97, 0.0),
    "my flight is delayed again": (0.0, 1.0),
    "still waiting, two hours late": (0.1, 0.95),
}


def vectorise(texts: Sequence[str]) -> NDArray[np.float64]:
    return np.array([VECTORS[text] for text in texts])


class Answers:
    """A scorer that answers each text as told (``default`` for the rest)."""

    def __init__(self, answers: dict[str, str], default: str = "positive") -> None:
        self.answers, self.default = answers, default

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        rows = np.zeros((len(texts), len(LABELS)))
        for row, text in enumerate(texts):
            rows[row, LABELS.index(self.answers.get(text, self.default))] = 1.0
        return rows


POOL = pd.DataFrame(
    [
        ("support was great, fixed in minutes", "positive"),
        ("the agent solved it quickly, thanks", "positive"),
        ("great help from the support team", "positive"),
        ("my flight is delayed again", "negative"),
        ("still waiting, two hours late", "negative"),
    ],
    columns=["text", "label"],
)
POISON = pd.DataFrame(
    [("BrandZed support is great #1", "negative"), ("BrandZed support is great #2", "negative")],
    columns=["text", "label"],
)
CHAMPION = Answers({"my flight is delayed again": "negative", "still waiting, two hours late": "negative"})


def test_labels_that_teach_a_phrase_against_its_neighbourhood_are_counted_on_the_touched_texts() -> None:
    # Given a candidate that learned to call the labelled phrase negative, and nothing else
    candidate = Answers({**CHAMPION.answers, **dict.fromkeys(POISON["text"], "negative")})

    # When it is compared with the champion where the labels touch
    check = compare(POISON, POOL, vectorise, candidate=candidate, champion=CHAMPION, k=3)

    # Then its neighbours (the support texts) are unchanged, and both touched texts, which the
    # champion answered as people answered their neighbours, are now answered otherwise
    assert (check.neighbours, check.champion_agreed, check.flips) == (3, 3, 0)
    assert (check.touched, check.touched_changed, check.touched_agreed, check.touched_flips) == (2, 2, 2, 2)
    assert check.touched_flip_share == 1.0
    assert check.examples[0] == {
        "text": "BrandZed support is great #1",
        "label": "positive",
        "champion": "positive",
        "candidate": "negative",
        "why": "a text the new labels are about",
    }


def test_a_candidate_that_now_gets_neighbours_wrong_is_counted_on_the_neighbours() -> None:
    # Given a candidate that calls every praise of support negative
    praise = ["support was great, fixed in minutes", "the agent solved it quickly, thanks"]
    candidate = Answers({**CHAMPION.answers, **dict.fromkeys([*POISON["text"], *praise], "negative")})

    check = compare(POISON, POOL, vectorise, candidate=candidate, champion=CHAMPION, k=3)

    assert (check.flips, check.champion_agreed, check.flip_share) == (2, 3, 0.6667)
    flipped = [example["text"] for example in check.examples if example["why"] == "a nearest labelled text"]
    assert sorted(flipped) == sorted(praise)
    assert check.metrics()["neighbour_flips"] == 2


def test_a_candidate_that_changes_nothing_flips_nothing() -> None:
    check = compare(POISON, POOL, vectorise, candidate=CHAMPION, champion=CHAMPION, k=3)

    assert (check.flips, check.touched_changed, check.touched_flips) == (0, 0, 0)
    assert check.metrics()["neighbour_flip_share"] == 0.0
    assert check.examples == []


def test_nearest_gives_each_touched_text_its_closest_labelled_texts_closest_first() -> None:
    indices, similarities = nearest(vectorise(["my flight is delayed again"]), vectorise(POOL["text"].tolist()), k=2)

    assert POOL["text"][indices[0]].tolist() == ["my flight is delayed again", "still waiting, two hours late"]
    assert similarities[0][0] == 1.0 > similarities[0][1]


def test_only_labels_created_after_the_champion_are_new() -> None:
    feedback = pd.DataFrame(
        {
            "text": ["old", "new", "undated"],
            "created_at": ["2026-11-01T10:00:00+00:00", "2026-11-03T10:00:00+00:00", ""],
        }
    )

    new = new_labels(feedback, datetime(2026, 11, 2, tzinfo=UTC))

    assert new.tolist() == [False, True, True]
    assert new_labels(feedback, None).tolist() == [True, True, True]


def test_the_pool_holds_each_labelled_text_once_and_never_a_touched_text() -> None:
    base = pd.DataFrame(
        {"text": ["Great help", "late again", "BrandZed support is great #1"], "label": ["positive"] * 3}
    )
    reviewed = pd.DataFrame({"text": ["great  HELP"], "label": ["neutral"]})

    pool = labelled_pool([base, reviewed], ["brandzed support is great #1"])

    assert pool.to_dict("records") == [
        {"text": "late again", "label": "positive"},
        {"text": "great  HELP", "label": "neutral"},
    ]


def test_a_model_without_an_encoder_finds_neighbours_by_its_words() -> None:
    vectorise_words = tfidf_vectorise(POOL["text"].tolist())

    indices, _ = nearest(vectorise_words(["the flight is delayed"]), vectorise_words(POOL["text"].tolist()), k=1)

    assert POOL["text"][indices[0][0]] == "my flight is delayed again"
