"""Benchmark: the encoder's two graphs on this CPU, side by side, and the one a server takes.

- Speed: one golden text at a time on one thread, the int8 graph and the fp32 graph derived from it
  taking turns text by text (so both see the same machine at the same moment); p50 and p99 of each,
  and their ratio.
- What ``ENCODER_GRAPH=auto`` (a server's default) takes here, from its own start-up timing.
- What the choice costs in answers: every golden text labelled through each graph, how many labels
  agree, and the golden figures under each (the promotion gate and the model's metrics are the int8
  graph's).

    .venv/bin/python bench/graphs.py [MODEL_DIR]    (default build/model; a minute or two)

Writes ``build/bench/graphs/results.md`` and ``results.json`` beside it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from report import Row, cpu_flags, machine, machine_line, markdown_table, within, write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "model_training"))  # the same as PYTHONPATH=model_training

from sentiment_model.data import LABELS, read_split  # noqa: E402
from sentiment_model.encoder_graph import GRAPHS, REFERENCE  # noqa: E402
from sentiment_model.serving import LoadedModel, load_model  # noqa: E402

OUT = ROOT / "build" / "bench" / "graphs"
MODEL_DIR = ROOT / "build" / "model"
GOLDEN = ROOT / "model_training" / "data" / "golden"
TIMED_TEXTS = 1000
WARMUP_TEXTS = 50
SEED = 7
MAX_SINGLE_P50_MS = 8.0  # the single-text target, for whichever graph auto takes


def golden_scores(labels: list[str], golden: pd.DataFrame) -> dict[str, float]:
    frame = golden.assign(predicted=labels)
    reviews, tweets = frame[frame["source"] == "reviews"], frame[frame["source"] == "tweets"]
    truth = tweets["label"].tolist()
    return {
        "reviews_accuracy": float(accuracy_score(reviews["label"], reviews["predicted"])),
        "tweets_macro_f1": float(f1_score(truth, tweets["predicted"], average="macro", labels=sorted(set(truth)))),
    }


def labels_of(model: LoadedModel, texts: list[str]) -> list[str]:
    return [LABELS[i] for i in np.asarray(model.scorer.predict_proba(texts)).argmax(axis=1)]


def measured(measure: str, result: str) -> Row:
    return Row(measure, "measured", result)


def interleaved(models: dict[str, LoadedModel], texts: list[str]) -> dict[str, np.ndarray]:
    """Milliseconds of each graph on each text, the graphs taking turns text by text."""
    times = {graph: np.empty(len(texts)) for graph in models}
    for index, text in enumerate(texts):
        for graph, model in models.items():
            started = time.perf_counter_ns()
            model.scorer.predict_proba([text])
            times[graph][index] = (time.perf_counter_ns() - started) / 1e6
    return times


def measure(model_dir: Path) -> dict[str, Any]:
    golden, _ = read_split(GOLDEN)
    texts = list(dict.fromkeys(golden["text"].tolist()))
    shuffled = [texts[i] for i in np.random.default_rng(SEED).permutation(len(texts))]
    os.environ["ENCODER_THREADS"] = "1"
    models: dict[str, LoadedModel] = {graph: load_model(str(model_dir), graph=graph) for graph in GRAPHS}
    started = time.perf_counter()
    auto = load_model(str(model_dir), graph="auto")
    auto_seconds = time.perf_counter() - started
    interleaved(models, shuffled[:WARMUP_TEXTS])
    times = interleaved(models, shuffled[WARMUP_TEXTS : WARMUP_TEXTS + TIMED_TEXTS])
    os.environ.pop("ENCODER_THREADS")
    speed = {
        graph: {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}
        for graph, ms in times.items()
    }
    golden_texts = golden["text"].tolist()
    labels = {graph: labels_of(load_model(str(model_dir), graph=graph), golden_texts) for graph in GRAPHS}
    agree = sum(a == b for a, b in zip(labels["int8"], labels["fp32"], strict=True))
    return {
        "model_dir": str(model_dir),
        "timed_texts": TIMED_TEXTS,
        "speed": speed,
        "fp32_over_int8_p50": speed["fp32"]["p50_ms"] / speed["int8"]["p50_ms"],
        "auto": auto.graph,
        "auto_load_seconds": auto_seconds,
        "golden_texts": len(golden_texts),
        "labels_agreeing": agree,
        "golden": {graph: golden_scores(labels[graph], golden) for graph in GRAPHS},
    }


def rows_for(raw: dict[str, Any]) -> list[Row]:
    speed, auto = raw["speed"], raw["auto"]
    taken = auto["graph"]
    n = f"{raw['timed_texts']:,} golden texts"
    figures = ", ".join(f"{graph} {ms:.2f} ms" for graph, ms in auto["ms_per_text"].items())
    return [
        *(
            measured(
                f"Single text p50 (p99) over {n}, one thread, {graph} graph",
                f"{speed[graph]['p50_ms']:.2f} ms ({speed[graph]['p99_ms']:.2f} ms)",
            )
            for graph in GRAPHS
        ),
        measured("fp32 p50 / int8 p50, measured text by text in turn", f"{raw['fp32_over_int8_p50']:.2f}×"),
        within(
            f"ENCODER_GRAPH=auto takes {taken} here (its start-up timing: {figures}); that graph's p50",
            f"{speed[taken]['p50_ms']:.2f} ms",
            speed[taken]["p50_ms"],
            MAX_SINGLE_P50_MS,
        ),
        measured(
            f"Golden labels the same under both graphs (of {raw['golden_texts']:,})",
            f"{raw['labels_agreeing']:,} ({100 * raw['labels_agreeing'] / raw['golden_texts']:.2f}%)",
        ),
        *(
            measured(
                f"Golden reviews accuracy / tweets macro-F1, {graph} graph"
                + (" (the model's recorded metrics)" if graph == REFERENCE else ""),
                f"{raw['golden'][graph]['reviews_accuracy']:.4f} / {raw['golden'][graph]['tweets_macro_f1']:.4f}",
            )
            for graph in GRAPHS
        ),
    ]


def main() -> int:
    model_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else MODEL_DIR
    raw = measure(model_dir)
    rows = rows_for(raw)
    info = machine()
    markdown = "\n".join([machine_line(info), f"CPU flags: {cpu_flags()}", "", markdown_table(rows)])
    print(markdown)
    write_results(OUT, markdown, rows, {"machine": info, **raw})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
