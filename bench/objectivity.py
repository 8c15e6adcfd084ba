"""How the objectivity move's three constants were chosen, on base rows held out for it.

The move (``sentiment_model.objectivity``) sends a share of a statement of fact's answer to neutral:
``w = weight · clip((o − threshold) / (1 − threshold), 0, 1) · (1 − |P(negative) − P(positive)|)^power``.
Its constants are chosen here, and only here, on rows no figure of the project is measured on, read
by an encoder that never saw them (as the served model reads what users send):

- the encoder is the recipe's, fine-tuned for one epoch like the bundled one but without the tenth of
  the base groups the recipe holds out (``finetune.py`` ``held_out``: reviews and plot sentences by
  film, tweets by text). The bundled encoder saw every base row, and leans harder on them than on a
  text it never saw: constants chosen through it cost golden reviews what they cost nothing here;
- the heads and the detector are fitted on the other nine tenths, as a training run fits them;
- on the held-out rows, for each setting on a grid: how many critics' snippets change answer (none
  may: a review has no neutral label, and a snippet moved is a snippet lost), tweets macro-F1 (which
  must not fall below the heads' own), and the share of plot sentences answered neutral (what the
  move is for);
- kept: the setting with the most plot sentences answered neutral among those that cost nothing,
  the smaller weight on a tie.

The golden split, the behavioural suite, the unseen-domain comments and the people-rated snippets are
not read. ``--all`` prints every setting, not only those that cost nothing.

    make bench ONLY=objectivity    (fine-tunes that encoder into build/encoders/minilm-tuning first when it
                                    is missing, about 6 minutes on 2 cores; then a minute or two)

Writes ``build/bench/objectivity/results.md`` and ``results.json`` beside it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from report import Row, machine, machine_line, write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "model_training"))  # the same as PYTHONPATH=model_training

from sentiment_model import encoder_model, objectivity  # noqa: E402
from sentiment_model.data import LABELS, golden_group, in_bucket_zero, read_split  # noqa: E402
from sentiment_model.encoder import EmbeddingCache, Encoder  # noqa: E402
from sentiment_model.model import ModelParams  # noqa: E402
from sentiment_model.objectivity import OBJECTIVE_SOURCE  # noqa: E402

OUT = ROOT / "build" / "bench" / "objectivity"
DATA = ROOT / "model_training" / "data"
CACHE = ROOT / "build" / "embeddings"
TUNING_ENCODER = ROOT / "build" / "encoders" / "minilm-tuning"
# finetune.py's held-out rule: its held-out groups are the rows the tuning encoder never trained on.
SALT = "finetune-validation:"
BUCKETS = 10
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
WEIGHTS = (0.25, 0.5, 0.75, 1.0)
POWERS = (1.0, 2.0, 3.0, 4.0)


def held_out(frame: pd.DataFrame) -> np.ndarray:
    """The groups ``finetune.py`` holds out (its salt and buckets over the golden rule's group key)."""
    return np.array([in_bucket_zero(SALT + golden_group(row), BUCKETS) for _, row in frame.iterrows()])


def costs_nothing(row: dict[str, Any], none: dict[str, Any]) -> bool:
    """No held-out review changes answer and tweets macro-F1 does not fall below the heads' own."""
    return bool(row["reviews_changed"] == 0 and row["tweets_macro_f1"] >= none["tweets_macro_f1"])


def kept(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Of the settings after the first (the heads alone), the one that costs nothing and answers the most
    plot sentences neutral, the smaller weight on a tie; the heads alone when every setting costs."""
    none = results[0]
    costless = [row for row in results[1:] if costs_nothing(row, none)]
    return max(costless, key=lambda row: (row["plots_neutral"], -row["weight"]), default=none)


def table(header: list[str], lines: list[list[str]]) -> str:
    widths = [max(len(str(line[column])) for line in [header, *lines]) for column in range(len(header))]
    rows = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |"
        for line in [header, *lines]
    ]
    return "\n".join([rows[0], "|" + "|".join("-" * (width + 2) for width in widths) + "|", *rows[1:]])


def scores(probabilities: np.ndarray, rows: pd.DataFrame) -> dict[str, float]:
    predicted = np.array(LABELS)[probabilities.argmax(axis=1)]
    reviews, tweets, plots = (rows["source"] == name for name in ("reviews", "tweets", OBJECTIVE_SOURCE))
    truth = rows.loc[tweets, "label"]
    return {
        "reviews_accuracy": float(accuracy_score(rows.loc[reviews, "label"], predicted[reviews.to_numpy()])),
        "tweets_macro_f1": float(
            f1_score(truth, predicted[tweets.to_numpy()], average="macro", labels=sorted(set(truth)))
        ),
        "plots_neutral": float(np.mean(predicted[plots.to_numpy()] == "neutral")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", type=Path, default=TUNING_ENCODER, help="the encoder without the held-out rows")
    parser.add_argument("--all", action="store_true", help="print every setting, not only those that cost nothing")
    args = parser.parse_args()
    if not (args.encoder / "encoder.json").exists():
        raise SystemExit(f"no encoder in {args.encoder}: make it with the finetune.py command in this script's help")
    recipe = json.loads((args.encoder / "encoder.json").read_text()).get("recipe", {})
    if recipe.get("data_set", "all") != "all" or not recipe.get("fine_tuned", True):
        raise SystemExit(f"{args.encoder} is not the recipe fine-tuned on the whole base split")
    base, _ = read_split(DATA / "base")
    held = held_out(base)
    train, tune = base.loc[~held].reset_index(drop=True), base.loc[held].reset_index(drop=True)
    cache = EmbeddingCache(CACHE, Encoder(args.encoder))
    train_embeddings = cache.embed(train["text"].tolist())
    tune_embeddings = np.asarray(cache.embed(tune["text"].tolist()), dtype=np.float64)
    cache.save()
    params = ModelParams()  # the detector is fitted with the heads; its constants are replaced below
    confidence = train["confidence"].fillna(1.0).to_numpy() if "confidence" in train else np.ones(len(train))
    weights = np.where(train["source"] == "reviews", params.review_weight, confidence)
    model = encoder_model.fit(
        train["text"].tolist(),
        train_embeddings,
        train["label"].to_numpy(),
        weights,
        domains=train["source"].to_numpy(),
        params=params,
    )
    detector = model.objectivity
    if detector is None:
        raise SystemExit("no plot sentences in the base split: run scripts/plot_sentences.py")
    logits = encoder_model.EncoderScorer(model, cache.embed).logits(tune["text"].tolist(), tune_embeddings)
    heads = encoder_model.mix(logits[:, : encoder_model.LOGITS])
    objective = logits[:, encoder_model.LOGITS]
    reviews = (tune["source"] == "reviews").to_numpy()
    before = scores(heads, tune)
    none: dict[str, Any] = {"threshold": None, "weight": 0.0, "power": None, **before, "reviews_changed": 0}
    results = [none]
    for power in POWERS:
        for threshold in THRESHOLDS:
            for weight in WEIGHTS:
                move = dataclasses.replace(detector, threshold=threshold, weight=weight, power=power)
                moved = move.blend(heads, objective)
                changed = int((moved.argmax(axis=1) != heads.argmax(axis=1))[reviews].sum())
                results.append(
                    {
                        "threshold": threshold,
                        "weight": weight,
                        "power": power,
                        **scores(moved, tune),
                        "reviews_changed": changed,
                    }
                )
    costless = [row for row in results[1:] if costs_nothing(row, none)]
    chosen = kept(results)
    counts = tune["source"].value_counts().to_dict()
    shown = results if args.all else [none, *sorted(costless, key=lambda row: -row["plots_neutral"])[:10]]
    grid = table(
        [
            "threshold",
            "weight",
            "power",
            "reviews acc.",
            "reviews changed",
            "tweets macro-F1",
            "plot sentences neutral",
        ],
        [
            [
                "—" if row["threshold"] is None else f"{row['threshold']:.1f}",
                f"{row['weight']:.2f}" + (" (kept)" if row is chosen else ""),
                "—" if row["power"] is None else f"{row['power']:.0f}",
                f"{row['reviews_accuracy']:.4f}",
                str(row["reviews_changed"]),
                f"{row['tweets_macro_f1']:.4f}",
                f"{row['plots_neutral']:.3f}",
            ]
            for row in shown
        ],
    )
    report = (
        f"# The objectivity move's constants\n\n{machine_line(machine())}\n\n"
        f"Encoder: {args.encoder.name}, fine-tuned without the held-out rows. "
        f"Held out: {counts.get('reviews', 0)} reviews, {counts.get('tweets', 0)} tweets, "
        f"{counts.get(OBJECTIVE_SOURCE, 0)} plot sentences; fitted on the other {len(train)} base rows.\n\n"
        f"Settings that change no held-out review and cost no tweets macro-F1, most plot sentences neutral first"
        f"{'' if args.all else ' (the best ten)'}:\n\n{grid}\n\n"
        f"Kept: threshold {chosen['threshold']}, weight {chosen['weight']}, power {chosen['power']} "
        f"(detector C {objectivity.DETECTOR_C}).\n"
    )
    print(report)
    kept_row = Row(
        "objectivity threshold, weight, power",
        "most plot sentences neutral at no cost",
        f"{chosen['threshold']}, {chosen['weight']}, {chosen['power']}",
    )
    raw = {"machine": machine(), "held_out": counts, "results": results, "chosen": chosen}
    write_results(OUT, report, [kept_row], raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
