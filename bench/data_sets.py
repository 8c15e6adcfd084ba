"""Benchmark: the model built with every bundled row next to the one built without non-commercial data.

``--data-set commercial`` (``make train DATA=commercial``) leaves CrowdFlower's airline tweets
(CC BY-NC-SA 4.0) out of training and out of the golden split, and reads texts with an encoder that
never saw them (``model_training/encoders/minilm-sentiment-commercial``). This trains the encoder model
with each data set (or takes model folders already trained) and scores both on:

- the golden reviews (accuracy): every golden review, the same rows for both;
- the golden tweets (macro-F1): every golden tweet (only the default model may be measured on the airline
  rows), and the golden tweets that are not airline tweets, the only ones the commercial model has;
- the unseen-domain comments (``bench/data/unseen_domains.csv``, macro-F1): texts neither trained on;
- the behavioural suite (pass rate).

Prints a Markdown table and the machine, and writes ``build/bench/data_sets/results.md`` and
``results.json``.

    .venv/bin/python bench/data_sets.py [--all MODEL_DIR] [--commercial MODEL_DIR]
                                        (with the PYTHONPATH the Makefile exports)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from report import Row, cpu_flags, machine, machine_line, write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "model_training"))  # the same as PYTHONPATH=model_training

from sentiment_model.behaviour.runner import run as run_suite  # noqa: E402
from sentiment_model.data import LABELS, read_split  # noqa: E402
from sentiment_model.serving import load_model  # noqa: E402
from sentiment_model.sources import DATA_SETS, airline_keys, text_key  # noqa: E402

DATA = ROOT / "model_training" / "data"
UNSEEN = ROOT / "bench" / "data" / "unseen_domains.csv"
OUT = ROOT / "build" / "bench" / "data_sets"


def train(data_set: str) -> Path:
    model_dir = OUT / f"model-{data_set}"
    argv = [sys.executable, "model_training/train.py", "--data-set", data_set, "--model-dir", str(model_dir)]
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    print(f"trained the {data_set} model in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return model_dir


def macro_f1(truth: list[str], predicted: list[str]) -> float:
    return float(f1_score(truth, predicted, average="macro", labels=sorted(set(truth)), zero_division=0))


def labels_of(model: Any, texts: list[str]) -> list[str]:
    return [LABELS[i] for i in model.scorer.predict_proba(texts).argmax(axis=1)]


def measure(model_dir: Path) -> dict[str, Any]:
    model = load_model(str(model_dir))
    golden, _ = read_split(DATA / "golden")
    reviews = golden[golden["source"] == "reviews"]
    tweets = golden[golden["source"] == "tweets"]
    commercial = tweets[~tweets["text"].map(text_key).isin(airline_keys())]
    unseen = pd.read_csv(UNSEEN)
    data = model.metadata.get("data") or {}
    figures: dict[str, Any] = {
        "version": model.metadata["version"],
        "data_set": data.get("data_set"),
        "encoder": (data.get("encoder") or {}).get("name"),
        "reviews_accuracy": float(accuracy_score(reviews["label"], labels_of(model, reviews["text"].tolist()))),
        "reviews_rows": len(reviews),
        "tweets_commercial_macro_f1": macro_f1(
            commercial["label"].tolist(), labels_of(model, commercial["text"].tolist())
        ),
        "tweets_commercial_rows": len(commercial),
        "unseen_macro_f1": macro_f1(unseen["label"].tolist(), labels_of(model, unseen["text"].tolist())),
        "unseen_rows": len(unseen),
        "behaviour_pass_rate": run_suite(model.scorer).overall.rate,
    }
    if data.get("data_set") != "commercial":
        figures["tweets_all_macro_f1"] = macro_f1(tweets["label"].tolist(), labels_of(model, tweets["text"].tolist()))
        figures["tweets_all_rows"] = len(tweets)
    return figures


def rows(results: dict[str, dict[str, Any]]) -> list[Row]:
    def cell(data_set: str, key: str) -> str:
        value = results[data_set].get(key)
        return "—" if value is None else f"{value:.4f}"

    table = []
    for key, measure_name in (
        ("reviews_accuracy", "golden reviews accuracy (2,835, the same for both)"),
        ("tweets_all_macro_f1", "golden tweets macro-F1, every tweet (6,175)"),
        ("tweets_commercial_macro_f1", "golden tweets macro-F1, not airline (3,697)"),
        ("unseen_macro_f1", "unseen-domain macro-F1 (114)"),
        ("behaviour_pass_rate", "behavioural suite pass rate"),
    ):
        table.append(Row(measure_name, f"all: {cell('all', key)}", f"commercial: {cell('commercial', key)}"))
    return table


def side_by_side(table: list[Row]) -> str:
    """The rows as measure | all | commercial (a comparison: no targets, no verdicts)."""
    lines = ["| measure | built with all data | built with commercial data |", "| --- | --- | --- |"]
    lines += [f"| {row.measure} | {row.target.split(': ')[1]} | {row.result.split(': ')[1]} |" for row in table]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for data_set in DATA_SETS:
        parser.add_argument(
            f"--{data_set}", type=Path, help=f"an encoder model already trained with --data-set {data_set}"
        )
    args = parser.parse_args()
    results = {}
    for data_set in DATA_SETS:
        model_dir = getattr(args, data_set) or train(data_set)
        results[data_set] = measure(model_dir)
        if (results[data_set]["data_set"] or "all") != data_set:  # a model from before data sets: every row
            raise SystemExit(f"{model_dir} was trained with data set {results[data_set]['data_set']}, not {data_set}")
    info = {**machine(), "flags": cpu_flags()}
    table = rows(results)
    markdown = "\n".join([side_by_side(table), "", machine_line(info), f"CPU flags: {info['flags']}"])
    print(markdown)
    write_results(OUT, markdown, table, {"models": results, "machine": info})
    return 0


if __name__ == "__main__":
    sys.exit(main())
