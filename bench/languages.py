"""Benchmark: the language identifier (``sentiment_model.language``) on what the model was trained for and on
what it was not.

- English that must stay supported: the golden tweets and reviews, the unseen-domain comments and the
  Amazon snippets (every text; none of them was written for this measure). How many are taken for another
  language (and so marked ``supported: false``), with a few of them.
- Other languages that must be caught: ``bench/data/languages.csv``, 90 short comments we wrote in 25
  languages (complaints, praise, thanks, questions), before the thresholds were chosen; the thresholds were
  then chosen on these figures, so they are a tuning set now, not an untouched one. How many are marked
  unsupported, and how many get their own language.
- Speed: microseconds a text on one thread, with the machine and its CPU flags.

    .venv/bin/python bench/languages.py    (with the PYTHONPATH the Makefile exports; seconds)

Writes ``build/bench/languages/results.md`` and ``results.json`` beside it.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path
from typing import Any

from report import Row, cpu_flags, machine, machine_line, markdown_table, within, write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "model_training"))  # the same as PYTHONPATH=model_training

from sentiment_model.language import MIN_LETTERS, MIN_PROBABILITY, identify, load_identifier  # noqa: E402

OUT = ROOT / "build" / "bench"
ENGLISH = (
    ROOT / "model_training" / "data" / "golden" / "tweets.csv",
    ROOT / "model_training" / "data" / "golden" / "reviews.csv",
    ROOT / "bench" / "data" / "unseen_domains.csv",
    ROOT / "bench" / "data" / "amazon_snippets.csv",
)
OTHERS = ROOT / "bench" / "data" / "languages.csv"
MAX_MICROSECONDS = 250.0  # "well under a millisecond": a quarter of one


def texts_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def measure() -> dict[str, Any]:
    english = [row["text"] for path in ENGLISH for row in texts_of(path)]
    others = texts_of(OTHERS)
    load_identifier()
    identify(english[:100])  # warm
    started = time.perf_counter()
    found = identify(english)
    seconds = time.perf_counter() - started
    flagged = [(text, language.code) for text, language in zip(english, found, strict=True) if not language.supported]
    other_found = identify([row["text"] for row in others])
    caught = sum(not language.supported for language in other_found)
    named = sum(language.code == row["language"] for row, language in zip(others, other_found, strict=True))
    missed = [
        (row["text"], row["language"], language.code)
        for row, language in zip(others, other_found, strict=True)
        if language.code != row["language"]
    ]
    return {
        "english_texts": len(english),
        "english_flagged": len(flagged),
        "english_flagged_examples": flagged[:8],
        "other_texts": len(others),
        "other_languages": len({row["language"] for row in others}),
        "other_caught": caught,
        "other_named": named,
        "other_missed": missed,
        "microseconds_per_text": 1e6 * seconds / len(english),
        "min_letters": MIN_LETTERS,
        "min_probability": MIN_PROBABILITY,
    }


def rows_for(raw: dict[str, Any]) -> list[Row]:
    return [
        Row(
            f"English texts taken for another language (of {raw['english_texts']:,}: golden, unseen domains, "
            "Amazon snippets)",
            "measured",
            f"{raw['english_flagged']} ({100 * raw['english_flagged'] / raw['english_texts']:.2f}%)",
        ),
        Row(
            f"Comments in {raw['other_languages']} other languages marked unsupported",
            "measured",
            f"{raw['other_caught']}/{raw['other_texts']} (their own language: {raw['other_named']})",
        ),
        within(
            "Language identification of one text, one thread",
            f"{raw['microseconds_per_text']:.0f} µs",
            raw["microseconds_per_text"],
            MAX_MICROSECONDS,
            "µs",
        ),
    ]


def main() -> int:
    raw = measure()
    rows = rows_for(raw)
    info = machine()
    lines = [machine_line(info), f"CPU flags: {cpu_flags()}", "", markdown_table(rows), ""]
    lines.append(f"Thresholds: at least {raw['min_letters']} letters, probability at least {raw['min_probability']}.")
    examples = "; ".join(f"{code}: {text[:60]!r}" for text, code in raw["english_flagged_examples"])
    missed = "; ".join(f"{want} taken for {got}: {text!r}" for text, want, got in raw["other_missed"])
    lines += [f"English taken for another language, a few: {examples}", f"Other languages not named right: {missed}"]
    markdown = "\n".join(lines)
    print(markdown)
    write_results(OUT / "languages", markdown, rows, {"machine": info, **raw})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
