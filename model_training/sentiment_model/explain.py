"""Why the model gave its label: occlusion, one word (or group of words) left out at a time.

The weight of a span is how much the predicted class's probability drops when the span is removed
from the text: positive pushed toward the label, negative pulled away from it. The method asks the
model only for probabilities, so it explains the encoder model and the TF-IDF model alike, and its
answer is checkable by anyone: remove the top span and score the text again.

Cost is bounded: a text is cut into at most :data:`MAX_SPANS` spans (long texts get groups of
consecutive words), so explaining one text scores at most ``MAX_SPANS + 1`` texts in one batch, and a
request explains at most :data:`MAX_EXPLAINED` texts.
"""

from __future__ import annotations

import math
import re
from typing import Any

from sentiment_model.data import LABELS
from sentiment_model.scorers import Scorer

# Words (with their apostrophes), and runs of punctuation or emoji: "!!!" and ":(" carry sentiment too.
TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]+")
MAX_SPANS = 48
MAX_EXPLAINED = 4
METHOD = "occlusion"


def spans(text: str) -> tuple[list[tuple[int, int]], int]:
    """Character ranges to leave out, in order, and how many tokens each holds (the last may hold fewer)."""
    tokens = [match.span() for match in TOKEN.finditer(text)]
    size = max(1, math.ceil(len(tokens) / MAX_SPANS))
    grouped = [(tokens[at][0], tokens[min(at + size, len(tokens)) - 1][1]) for at in range(0, len(tokens), size)]
    return grouped, size


def without(text: str, start: int, end: int) -> str:
    """The text with one span left out; one space keeps its neighbours apart."""
    return f"{text[:start].rstrip()} {text[end:].lstrip()}".strip()


def explain(scorer: Scorer, texts: list[str]) -> list[dict[str, Any]]:
    """Each text's explanation; all the texts' variants are scored in one call."""
    plans = [spans(text) for text in texts]
    variants: list[str] = []
    for text, (ranges, _) in zip(texts, plans, strict=True):
        variants.append(text)
        variants += [without(text, start, end) for start, end in ranges]
    probabilities = scorer.predict_proba(variants).tolist()
    explanations = []
    at = 0
    for text, (ranges, size) in zip(texts, plans, strict=True):
        full = probabilities[at]
        best = max(range(len(LABELS)), key=full.__getitem__)
        tokens = [
            {"text": text[start:end], "start": start, "end": end, "weight": round(full[best] - row[best], 6)}
            for (start, end), row in zip(ranges, probabilities[at + 1 : at + 1 + len(ranges)], strict=True)
        ]
        explanations.append({"method": METHOD, "label": LABELS[best], "tokens_per_span": size, "tokens": tokens})
        at += 1 + len(ranges)
    return explanations
