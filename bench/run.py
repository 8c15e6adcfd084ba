"""Benchmark: our sentiment model and its server against the seeds' recipe, in one run.

1. Trains our model with ``model_training/train.py`` (wall time) and reads its golden scores.
2. Trains the seeds' reference recipe (Porter-stemmed unigram TF-IDF + logistic regression)
   on the same base data and scores it on the same golden split: the anchor rows.
3. Times single-text and 256-text-batch predictions in-process, ours and the seeds'.
4. Loads our server and a seeds-style FastAPI server (one worker each, one after the other)
   with wrk, one golden text per request.

Prints a Markdown table (measure / target / result / pass) and the machine it ran on, and
writes both, with the raw numbers, to ``build/bench/results.md`` and ``build/bench/results.json``.
Exits 0 whenever everything was measured, whatever the verdicts; non-zero when something
could not be measured.

    PYTHONPATH=model_training .venv/bin/python bench/run.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import Pipeline

from loadtest import (
    LoadTestError,
    ServerCommand,
    WrkResult,
    check_invocation,
    free_port,
    require_wrk,
    run_wrk,
    running_server,
)
from reference_recipe import train_reference
from report import Row, at_least, at_most, machine, machine_line, markdown_table, number, write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "model_training"))  # the same as PYTHONPATH=model_training

from sentiment_model.data import read_split  # noqa: E402
from sentiment_model.serving import load_model  # noqa: E402

DATA = ROOT / "model_training" / "data"
OUT = ROOT / "build" / "bench"
MODEL_DIR = OUT / "model"
ARCHIVE = OUT / "model.tar.gz"
REFERENCE_MODEL = OUT / "reference.joblib"
BODY_FILE = OUT / "wrk_bodies.jsonl"

SEED = 7
WARMUP_TEXTS = 500
LATENCY_TEXTS = 2000
BATCH_SIZE = 256
BATCHES = 10
WRK_BODIES = 1000
WRK_WARMUP_SECONDS = 3
WRK_SECONDS = 15
WRK_THREADS = 2
WRK_CONNECTIONS = 8

MAX_TRAINING_SECONDS = 180.0
MIN_REVIEWS_ACCURACY = 0.80
MIN_TWEETS_MACRO_F1 = 0.75
MAX_SINGLE_MEAN_MS = 0.2
MAX_BATCH_MEAN_MS = 50.0
MIN_THROUGHPUT_RATIO = 3.0
MAX_SERVER_P99_MS = 10.0

Predict = Callable[[Sequence[str]], Any]


class BenchError(RuntimeError):
    """Something could not be measured."""


@dataclass(frozen=True)
class LatencyStats:
    """Milliseconds per call."""

    mean_ms: float
    p50_ms: float
    p99_ms: float

    @classmethod
    def of(cls, milliseconds: np.ndarray) -> LatencyStats:
        p50, p99 = np.percentile(milliseconds, [50, 99])
        return cls(float(milliseconds.mean()), float(p50), float(p99))


@dataclass(frozen=True)
class TextSample:
    """Disjoint sets of golden texts, drawn once with a fixed seed."""

    warmup: list[str]
    single: list[str]
    batches: list[list[str]]
    bodies: list[str]


def progress(message: str) -> None:
    """A progress line on stderr; stdout carries only the report."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def relative(path: Path) -> str:
    """``path`` relative to the repository root, as the report shows it."""
    return str(path.relative_to(ROOT))


def child_env(**extra: str) -> dict[str, str]:
    """This environment, with ``model_training`` on PYTHONPATH and ``extra`` set."""
    python_path = os.pathsep.join(filter(None, [str(ROOT / "model_training"), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": python_path, **extra}


def train_our_model() -> dict[str, Any]:
    """Run ``train.py`` as a subprocess; its wall time and the JSON summary it prints last."""
    shutil.rmtree(MODEL_DIR, ignore_errors=True)
    log_file = OUT / "train.log"
    argv = [
        sys.executable,
        "model_training/train.py",
        "--model-dir",
        relative(MODEL_DIR),
        "--archive",
        relative(ARCHIVE),
    ]
    with log_file.open("w") as log:
        started = time.perf_counter()
        completed = subprocess.run(
            argv, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=log, text=True, check=False
        )
        seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise BenchError(f"train.py exited with {completed.returncode}; its log is {relative(log_file)}")
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    try:
        summary = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError) as error:
        raise BenchError(f"train.py printed no JSON summary line ({error}): {completed.stdout[-500:]!r}") from None
    return {"seconds": seconds, "summary": summary}


def golden_scores(predicted: Sequence[str], golden: pd.DataFrame) -> dict[str, float]:
    """Reviews accuracy and tweets macro-F1 (over the labels present in the truth)."""
    frame = golden.assign(predicted=list(predicted))
    reviews = frame[frame["source"] == "reviews"]
    tweets = frame[frame["source"] == "tweets"]
    truth = tweets["label"].tolist()
    return {
        "reviews_accuracy": float(accuracy_score(reviews["label"], reviews["predicted"])),
        "tweets_macro_f1": float(f1_score(truth, tweets["predicted"], average="macro", labels=sorted(set(truth)))),
    }


def train_reference_model(base: pd.DataFrame, golden: pd.DataFrame) -> tuple[Pipeline, dict[str, Any]]:
    """Fit the seeds' recipe on the base split, save it for the reference server, score it."""
    started = time.perf_counter()
    pipeline = train_reference(base["text"].tolist(), base["label"].tolist())
    seconds = time.perf_counter() - started
    joblib.dump(pipeline, REFERENCE_MODEL)
    scores = golden_scores(pipeline.predict(golden["text"].tolist()).tolist(), golden)
    return pipeline, {"training_seconds": seconds, **scores}


def sample_texts(golden: pd.DataFrame) -> TextSample:
    """Warm-up, single-text, batch and wrk texts: distinct golden texts, no text in two sets."""
    texts = list(dict.fromkeys(golden["text"].tolist()))
    needed = WARMUP_TEXTS + LATENCY_TEXTS + BATCH_SIZE * BATCHES + WRK_BODIES
    if len(texts) < needed:
        raise BenchError(f"the golden split has {len(texts)} distinct texts; the benchmark needs {needed}")
    shuffled = [texts[i] for i in np.random.default_rng(SEED).permutation(len(texts))]
    batch_start = WARMUP_TEXTS + LATENCY_TEXTS
    bodies_start = batch_start + BATCH_SIZE * BATCHES
    return TextSample(
        warmup=shuffled[:WARMUP_TEXTS],
        single=shuffled[WARMUP_TEXTS:batch_start],
        batches=[shuffled[start : start + BATCH_SIZE] for start in range(batch_start, bodies_start, BATCH_SIZE)],
        bodies=shuffled[bodies_start : bodies_start + WRK_BODIES],
    )


def time_calls(predict: Predict, inputs: Sequence[Sequence[str]]) -> np.ndarray:
    """Milliseconds of each ``predict(item)`` call."""
    clock = time.perf_counter_ns
    elapsed = np.empty(len(inputs))
    for index, item in enumerate(inputs):
        started = clock()
        predict(item)
        elapsed[index] = clock() - started
    return elapsed / 1e6


def single_text_latency(predict: Predict, sample: TextSample) -> LatencyStats:
    """One text per call, after warming up on other texts."""
    time_calls(predict, [[text] for text in sample.warmup])
    return LatencyStats.of(time_calls(predict, [[text] for text in sample.single]))


def batch_latency(predict: Predict, sample: TextSample) -> LatencyStats:
    """256 texts per call, each batch different, after one warm-up batch of other texts."""
    predict(sample.warmup[:BATCH_SIZE])
    return LatencyStats.of(time_calls(predict, sample.batches))


def measure_latency(ours: Predict, reference: Predict, sample: TextSample) -> dict[str, Any]:
    """In-process latency, ours and the seeds' pipeline's, single text and batch."""
    return {
        "ours": {
            "single": asdict(single_text_latency(ours, sample)),
            "batch_256": asdict(batch_latency(ours, sample)),
        },
        "reference": {
            "single": asdict(single_text_latency(reference, sample)),
            "batch_256": asdict(batch_latency(reference, sample)),
        },
    }


def write_bodies(texts: Sequence[str]) -> None:
    """One JSON request body per line, for ``wrk_post.lua``."""
    BODY_FILE.write_text("".join(json.dumps({"instances": [text]}) + "\n" for text in texts))


def our_server(port: int) -> ServerCommand:
    """Our model server, one worker."""
    env = child_env(MODEL_URI=relative(MODEL_DIR), PORT=str(port), HOST="127.0.0.1", SERVER_WORKERS="1")
    argv = [sys.executable, "-m", "sentiment_model.container", "serve"]
    return ServerCommand("our server", argv, env, OUT / "server-ours.log")


def reference_server(port: int) -> ServerCommand:
    """The seeds-style FastAPI server on uvicorn, one worker (access log off, as ours)."""
    argv = [sys.executable, "-m", "uvicorn", "reference_server:app", "--app-dir", "bench"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log"]
    env = child_env(REFERENCE_MODEL=relative(REFERENCE_MODEL))
    return ServerCommand("reference server", argv, env, OUT / "server-reference.log")


def load_test(make_command: Callable[[int], ServerCommand]) -> WrkResult:
    """Start the server, check one request, warm up with wrk, then measure with wrk; stop it."""
    port = free_port()
    command = make_command(port)
    progress(f"load-testing {command.name} on port {port} ({WRK_SECONDS} s after {WRK_WARMUP_SECONDS} s)")
    with running_server(command, port, ROOT) as base_url:
        url = f"{base_url}/invocations"
        check_invocation(url, BODY_FILE.read_text().splitlines()[0].encode())
        run_wrk(url, BODY_FILE, WRK_WARMUP_SECONDS, WRK_THREADS, WRK_CONNECTIONS)
        return run_wrk(url, BODY_FILE, WRK_SECONDS, WRK_THREADS, WRK_CONNECTIONS)


def run_measurements() -> dict[str, Any]:
    """Every measurement, in order, as raw numbers."""
    require_wrk()  # before minutes of training, not after
    OUT.mkdir(parents=True, exist_ok=True)
    progress(f"training our model into {relative(MODEL_DIR)}")
    training = train_our_model()
    progress("training the seeds' reference recipe")
    base, _ = read_split(DATA / "base")
    golden, _ = read_split(DATA / "golden")
    reference_pipeline, reference = train_reference_model(base, golden)
    sample = sample_texts(golden)
    progress("timing in-process predictions")
    scorer = load_model(str(MODEL_DIR)).scorer
    latency = measure_latency(scorer.predict_proba, reference_pipeline.predict_proba, sample)
    write_bodies(sample.bodies)
    ours = load_test(our_server)
    theirs = load_test(reference_server)
    return {
        "training": training,
        "reference": reference,
        "latency_ms": latency,
        "server": {"ours": ours.as_dict(), "reference": theirs.as_dict()},
        "settings": {
            "seed": SEED,
            "warmup_texts": WARMUP_TEXTS,
            "latency_texts": LATENCY_TEXTS,
            "batch_size": BATCH_SIZE,
            "batches": BATCHES,
            "wrk": f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{WRK_SECONDS}s --latency ({WRK_BODIES} bodies)",
        },
    }


def accuracy_rows(raw: dict[str, Any]) -> list[Row]:
    """Training time, and golden scores of ours next to the seeds' recipe."""
    seconds = raw["training"]["seconds"]
    summary, reference = raw["training"]["summary"], raw["reference"]
    reviews, tweets = summary.get("reviews_accuracy"), summary.get("tweets_macro_f1")
    return [
        Row(
            "Training time, train.py wall clock",
            f"≤ {MAX_TRAINING_SECONDS:.0f} s",
            number(seconds, 1, "s"),
            at_most(seconds, MAX_TRAINING_SECONDS),
        ),
        Row(
            "Reviews accuracy (golden), ours",
            f"≥ {MIN_REVIEWS_ACCURACY:.2f}",
            number(reviews),
            at_least(reviews, MIN_REVIEWS_ACCURACY),
        ),
        Row("Reviews accuracy (golden), seeds' recipe", "anchor", number(reference["reviews_accuracy"])),
        Row(
            "Tweets macro-F1 (golden), ours",
            f"≥ {MIN_TWEETS_MACRO_F1:.2f}",
            number(tweets),
            at_least(tweets, MIN_TWEETS_MACRO_F1),
        ),
        Row("Tweets macro-F1 (golden), seeds' recipe", "anchor", number(reference["tweets_macro_f1"])),
    ]


def latency_rows(raw: dict[str, Any]) -> list[Row]:
    """In-process single-text and batch latency, ours next to the seeds' pipeline."""
    ours, theirs = raw["latency_ms"]["ours"], raw["latency_ms"]["reference"]
    single, batch = ours["single"], ours["batch_256"]
    n = f"{LATENCY_TEXTS:,} texts"
    return [
        Row(
            f"Single-text latency, mean over {n}, ours",
            f"≤ {MAX_SINGLE_MEAN_MS} ms",
            number(single["mean_ms"], 3, "ms"),
            at_most(single["mean_ms"], MAX_SINGLE_MEAN_MS),
        ),
        Row(
            "Single-text latency p50 / p99, ours",
            "—",
            f"{number(single['p50_ms'], 3)} / {number(single['p99_ms'], 3)} ms",
        ),
        Row(
            "Single-text latency mean (p99), seeds' pipeline",
            "anchor",
            f"{number(theirs['single']['mean_ms'], 3)} ms ({number(theirs['single']['p99_ms'], 3)} ms)",
        ),
        Row(
            f"{BATCH_SIZE}-text batch, mean of {BATCHES} batches, ours",
            f"≤ {MAX_BATCH_MEAN_MS:.0f} ms",
            number(batch["mean_ms"], 2, "ms"),
            at_most(batch["mean_ms"], MAX_BATCH_MEAN_MS),
        ),
        Row(
            f"{BATCH_SIZE}-text batch, mean of {BATCHES} batches, seeds' pipeline",
            "anchor",
            number(theirs["batch_256"]["mean_ms"], 2, "ms"),
        ),
    ]


def server_rows(raw: dict[str, Any]) -> list[Row]:
    """wrk throughput, latency and errors, our server next to the seeds-style one."""
    ours, theirs = raw["server"]["ours"], raw["server"]["reference"]
    ratio = ours["requests_per_second"] / theirs["requests_per_second"] if theirs["requests_per_second"] else None
    load = f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} {WRK_SECONDS} s, 1 worker"
    return [
        Row(
            f"Server throughput ({load}), ours",
            f"≥ {MIN_THROUGHPUT_RATIO:.0f}× reference",
            f"{number(ours['requests_per_second'], 0, 'req/s')} ({number(ratio, 1)}× reference)",
            at_least(ratio, MIN_THROUGHPUT_RATIO),
        ),
        Row(
            f"Server throughput ({load}), seeds-style FastAPI",
            "anchor",
            number(theirs["requests_per_second"], 0, "req/s"),
        ),
        Row(
            "Server latency p99 under load, ours",
            f"≤ {MAX_SERVER_P99_MS:.0f} ms",
            f"{number(ours['p99_ms'], 2, 'ms')} (p50 {number(ours['p50_ms'], 2, 'ms')})",
            at_most(ours["p99_ms"], MAX_SERVER_P99_MS),
        ),
        Row(
            "Server latency p99 under load, seeds-style FastAPI",
            "anchor",
            f"{number(theirs['p99_ms'], 2, 'ms')} (p50 {number(theirs['p50_ms'], 2, 'ms')})",
        ),
        *(error_row(name, result) for name, result in (("ours", ours), ("seeds-style FastAPI", theirs))),
    ]


def error_row(name: str, result: dict[str, Any]) -> Row:
    """Non-2xx responses and socket errors during the measured wrk run: there must be none."""
    errors = result["non_2xx"] + result["socket_errors"]
    text = f"{result['non_2xx']} non-2xx, {result['socket_errors']} socket errors of {result['requests']:,} requests"
    return Row(f"Failed requests under load, {name}", "0", text, errors == 0)


def main() -> int:
    """Measure, print the report, write it to build/bench; 0 unless something went unmeasured."""
    started = time.perf_counter()
    try:
        raw = run_measurements()
    except (BenchError, LoadTestError) as error:
        print(f"bench: could not measure: {error}", file=sys.stderr)
        return 1
    rows = [*accuracy_rows(raw), *latency_rows(raw), *server_rows(raw)]
    total = time.perf_counter() - started
    info = machine()
    raw["machine"], raw["total_seconds"] = info, total
    markdown = f"{machine_line(info)}\n\n{markdown_table(rows)}\n\nTotal benchmark time: {total:.0f} s"
    print(markdown)
    write_results(OUT, markdown, rows, raw)
    progress(f"wrote {relative(OUT / 'results.md')} and {relative(OUT / 'results.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
