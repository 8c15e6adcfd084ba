"""Make the golden split once: ``python -m sentiment_model.split reviews.csv tweets.csv --out data``.

Writes ``data/base/<name>.csv`` and ``data/golden/<name>.csv``. The rule lives in
:func:`sentiment_model.data.split_golden`; a test re-applies it to the committed files, so the
committed split cannot silently diverge from the documented rule.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from sentiment_model.data import split_golden


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sources", nargs="+", type=Path, help="full labelled CSV files")
    parser.add_argument("--out", type=Path, required=True, help="folder to write base/ and golden/ into")
    args = parser.parse_args(argv)
    for source in args.sources:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
        base, golden = split_golden(frame)
        for part, rows in (("base", base), ("golden", golden)):
            target = args.out / part / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            rows.to_csv(target, index=False)
        print(f"{source.name}: {len(base)} base, {len(golden)} golden")


if __name__ == "__main__":
    main()
