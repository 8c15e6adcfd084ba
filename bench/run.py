"""Benchmark: both kinds of our model and their server, against the seeds' recipes, in one run.

1. Trains each kind with ``model_training/train.py`` (wall time): the encoder model twice, with
   an empty embedding cache and with a warm one (what a retraining run costs), and reads their
   golden scores.
2. Trains the seeds' reference recipe (Porter-stemmed unigram TF-IDF + logistic regression)
   on the same base data and scores it on the same golden split: the anchor rows.
3. Scores each kind on comments from domains in neither training set
   (``bench/data/unseen_domains.csv``: support chats, product feedback, requests, questions), then
   retrains it with half of them as feedback and scores it on the other half (both halves in turn).
4. Times single-text (the encoder on one thread) and 256-text-batch predictions in-process.
5. Loads each kind's server with wrk, one golden text per request, next to a seeds-style server
   doing the same work: FastAPI + the seeds' pipeline for the TF-IDF model, FastAPI +
   sentence-transformers on PyTorch (the same MiniLM) for the encoder model; and times the encoder
   server from start to its first ``/ping`` 200.

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
from sklearn.metrics import f1_score as macro_f1_of
from sklearn.pipeline import Pipeline

from loadtest import (
    LoadTestError,
    ServerCommand,
    check_invocation,
    free_port,
    require_wrk,
    run_wrk,
    running_server,
)
from reference_recipe import train_reference
from report import (
    ModelBenchSettings,
    cpu_flags,
    machine,
    machine_line,
    markdown_table,
    model_bench_rows,
    write_results,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "model_training"))  # the same as PYTHONPATH=model_training

from sentiment_model.data import LABELS, read_split  # noqa: E402
from sentiment_model.explain import explain  # noqa: E402
from sentiment_model.objectivity import OBJECTIVE_SOURCE  # noqa: E402
from sentiment_model.serving import load_model  # noqa: E402

DATA = ROOT / "model_training" / "data"
UNSEEN = ROOT / "bench" / "data" / "unseen_domains.csv"
OUT = ROOT / "build" / "bench"
KINDS = ("encoder", "tfidf")
MODEL_DIRS = {kind: OUT / f"model-{kind}" for kind in KINDS}
ARCHIVES = {kind: OUT / f"model-{kind}.tar.gz" for kind in KINDS}
EMBEDDING_CACHE = OUT / "embeddings"
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
EXPLAINED_TEXTS = 100  # golden texts explained, one at a time
# What the rows name, in ModelBenchSettings' order.
SETTINGS = ModelBenchSettings(
    KINDS, LATENCY_TEXTS, BATCH_SIZE, BATCHES, EXPLAINED_TEXTS, WRK_THREADS, WRK_CONNECTIONS, WRK_SECONDS
)

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


def train_our_model(kind: str, *extra: str, model_dir: Path | None = None) -> dict[str, Any]:
    """Run ``train.py`` as a subprocess; its wall time and the JSON summary it prints last."""
    model_dir = model_dir or MODEL_DIRS[kind]
    shutil.rmtree(model_dir, ignore_errors=True)
    log_file = OUT / f"train-{model_dir.name}.log"
    argv = [sys.executable, "model_training/train.py", "--kind", kind, "--model-dir", relative(model_dir)]
    argv += ["--embedding-cache", relative(EMBEDDING_CACHE), *extra]
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


def train_both_kinds() -> dict[str, Any]:
    """Each kind once; the encoder first with an empty cache, then again with the cache it filled."""
    shutil.rmtree(EMBEDDING_CACHE, ignore_errors=True)
    trained = {}
    for kind in KINDS:
        progress(f"training the {kind} model into {relative(MODEL_DIRS[kind])}")
        trained[kind] = train_our_model(kind, "--archive", relative(ARCHIVES[kind]))
    progress("training the encoder model again, with the embedding cache warm (a retraining run)")
    trained["encoder_warm"] = train_our_model("encoder")
    for kind in KINDS:
        trained[kind]["archive_bytes"] = ARCHIVES[kind].stat().st_size
    return trained


def unseen_domain_scores(kind: str) -> dict[str, Any]:
    """Macro-F1 on comments from domains in neither training set, and after half of them (each half
    in turn) went through training as feedback, on the other half."""
    frame = pd.read_csv(UNSEEN)
    truth = frame["label"].tolist()
    scorer = load_model(str(MODEL_DIRS[kind])).scorer
    before = macro_f1_of(truth, predicted_labels(scorer.predict_proba(frame["text"].tolist())), average="macro")
    halves = np.array_split(np.random.default_rng(SEED).permutation(len(frame)), 2)
    after, held_out_before = [], []
    for taught, held in (halves, halves[::-1]):
        feedback = OUT / f"feedback-{kind}"
        shutil.rmtree(feedback, ignore_errors=True)
        feedback.mkdir(parents=True)
        for index in taught:
            row = frame.iloc[int(index)]
            record = {"comment_id": f"u{index}", "text": row["text"], "label": row["label"], "created_at": "t"}
            (feedback / f"u{index}.json").write_text(json.dumps(record))
        model_dir = OUT / f"model-{kind}-feedback"
        train_our_model(kind, "--feedback", relative(feedback), model_dir=model_dir)
        retrained = load_model(str(model_dir)).scorer
        texts = frame["text"].iloc[held].tolist()
        labels = frame["label"].iloc[held].tolist()
        after.append(macro_f1_of(labels, predicted_labels(retrained.predict_proba(texts)), average="macro"))
        held_out_before.append(macro_f1_of(labels, predicted_labels(scorer.predict_proba(texts)), average="macro"))
    return {
        "rows": len(frame),
        "macro_f1": float(before),
        "held_out_macro_f1_before": float(np.mean(held_out_before)),
        "held_out_macro_f1_after_feedback": float(np.mean(after)),
        "feedback_rows": len(halves[0]),
    }


def predicted_labels(probabilities: np.ndarray) -> list[str]:
    return [LABELS[i] for i in probabilities.argmax(axis=1)]


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


def measure_latency(kind: str, sample: TextSample) -> dict[str, Any]:
    """In-process latency of one kind: single texts (the encoder on one thread), then 256-text batches
    (the encoder on every core)."""
    if kind == "encoder":  # the graph a server would run on this CPU (ENCODER_GRAPH=auto)
        os.environ["ENCODER_THREADS"] = "1"
        model = load_model(str(MODEL_DIRS[kind]), graph="auto")
        single = single_text_latency(model.scorer.predict_proba, sample)
        os.environ.pop("ENCODER_THREADS")
        batch = batch_latency(load_model(str(MODEL_DIRS[kind]), graph="auto").scorer.predict_proba, sample)
        return {"single": asdict(single), "batch_256": asdict(batch), "graph": model.graph}
    else:
        scorer = load_model(str(MODEL_DIRS[kind])).scorer
        single, batch = single_text_latency(scorer.predict_proba, sample), batch_latency(scorer.predict_proba, sample)
    return {"single": asdict(single), "batch_256": asdict(batch)}


def explanation_latency(kind: str, sample: TextSample) -> dict[str, Any]:
    """One comment explained per call (its words left out in turn, up to 49 texts scored in one call),
    for golden texts and for the longest comment the API accepts (5,000 characters, 48 spans)."""
    scorer = load_model(str(MODEL_DIRS[kind])).scorer
    texts = sample.single[:EXPLAINED_TEXTS]
    explain(scorer, texts[:5])  # warm-up
    golden = LatencyStats.of(time_calls(lambda batch: explain(scorer, list(batch)), [[text] for text in texts]))
    words = " ".join(sample.warmup)
    longest = words[: words.rfind(" ", 0, 5000)]
    long_calls = time_calls(lambda batch: explain(scorer, list(batch)), [[longest]] * 5)
    return {"golden": asdict(golden), "longest_p50_ms": float(np.percentile(long_calls, 50))}


def reference_latency(reference: Predict, sample: TextSample) -> dict[str, Any]:
    return {
        "single": asdict(single_text_latency(reference, sample)),
        "batch_256": asdict(batch_latency(reference, sample)),
    }


def write_bodies(texts: Sequence[str]) -> None:
    """One JSON request body per line, for ``wrk_post.lua``."""
    BODY_FILE.write_text("".join(json.dumps({"instances": [text]}) + "\n" for text in texts))


def our_server(kind: str) -> Callable[[int], ServerCommand]:
    """Our model server serving one kind, one worker."""

    def command(port: int) -> ServerCommand:
        model = relative(MODEL_DIRS[kind])
        env = child_env(MODEL_URI=model, PORT=str(port), HOST="127.0.0.1", SERVER_WORKERS="1")
        argv = [sys.executable, "-m", "sentiment_model.container", "serve"]
        return ServerCommand(f"our server ({kind})", argv, env, OUT / f"server-{kind}.log")

    return command


def reference_server(port: int) -> ServerCommand:
    """The seeds-style FastAPI server on uvicorn, one worker (access log off, as ours)."""
    argv = [sys.executable, "-m", "uvicorn", "reference_server:app", "--app-dir", "bench"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log"]
    env = child_env(REFERENCE_MODEL=relative(REFERENCE_MODEL))
    return ServerCommand("reference server", argv, env, OUT / "server-reference.log")


def reference_transformer_server(port: int) -> ServerCommand:
    """The seeds-style transformer server: FastAPI + sentence-transformers on PyTorch, one worker."""
    argv = [sys.executable, "-m", "uvicorn", "reference_transformer_server:app", "--app-dir", "bench"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log"]
    env = child_env(ENCODER_MODEL=relative(MODEL_DIRS["encoder"]))
    return ServerCommand("reference transformer server", argv, env, OUT / "server-reference-transformer.log")


def load_test(make_command: Callable[[int], ServerCommand]) -> dict[str, Any]:
    """Start the server, check one request, warm up with wrk, then measure with wrk; stop it."""
    port = free_port()
    command = make_command(port)
    progress(f"load-testing {command.name} on port {port} ({WRK_SECONDS} s after {WRK_WARMUP_SECONDS} s)")
    ready: dict[str, float] = {}
    with running_server(command, port, ROOT, ready) as base_url:
        url = f"{base_url}/invocations"
        check_invocation(url, BODY_FILE.read_text().splitlines()[0].encode())
        run_wrk(url, BODY_FILE, WRK_WARMUP_SECONDS, WRK_THREADS, WRK_CONNECTIONS)
        result = run_wrk(url, BODY_FILE, WRK_SECONDS, WRK_THREADS, WRK_CONNECTIONS)
    return {**result.as_dict(), "ready_seconds": ready["seconds"]}


def image_layers() -> dict[str, float]:
    """What the model image adds to its base (python:3.12-slim): the pinned requirements installed as the
    Dockerfile installs them (here with this interpreter's wheels), and the code, encoder and data it copies.
    No Docker engine is needed, nor used."""

    def megabytes(path: Path) -> float:
        return sum(item.stat().st_size for item in path.rglob("*") if item.is_file()) / 1e6

    target = OUT / "image-packages"
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--target",
            str(target),
            "-r",
            str(ROOT / "model_training" / "requirements.txt"),
        ],
        check=True,
    )
    model_training = ROOT / "model_training"
    sizes = {
        "packages": megabytes(target),
        "encoder": megabytes(model_training / "encoders"),
        "data": megabytes(model_training / "data"),
        "code": megabytes(model_training / "sentiment_model") + (model_training / "train.py").stat().st_size / 1e6,
        "torch_in_packages": float((target / "torch").exists()),
    }
    shutil.rmtree(target, ignore_errors=True)
    return sizes


def run_measurements() -> dict[str, Any]:
    """Every measurement, in order, as raw numbers."""
    require_wrk()  # before minutes of training, not after
    OUT.mkdir(parents=True, exist_ok=True)
    training = train_both_kinds()
    progress("training the seeds' reference recipe")
    base, _ = read_split(DATA / "base")
    base = base.loc[base["source"] != OBJECTIVE_SOURCE]  # the seeds' recipe learns sentiment labels only
    golden, _ = read_split(DATA / "golden")
    reference_pipeline, reference = train_reference_model(base, golden)
    unseen = {}
    for kind in KINDS:
        progress(f"scoring the {kind} model on unseen domains, and after feedback from them")
        unseen[kind] = unseen_domain_scores(kind)
    sample = sample_texts(golden)
    progress("timing in-process predictions")
    latency = {kind: measure_latency(kind, sample) for kind in KINDS}
    for kind in KINDS:
        progress(f"explanations, {kind}")
        latency[kind]["explanation"] = explanation_latency(kind, sample)
    latency["reference"] = reference_latency(reference_pipeline.predict_proba, sample)
    progress("sizing what the model image adds to its base")
    image = image_layers()
    write_bodies(sample.bodies)
    server = {
        "encoder": load_test(our_server("encoder")),
        "reference_transformer": load_test(reference_transformer_server),
        "tfidf": load_test(our_server("tfidf")),
        "reference": load_test(reference_server),
    }
    return {
        "training": training,
        "reference": reference,
        "unseen_domains": unseen,
        "latency_ms": latency,
        "server": server,
        "image": image,
        "settings": {
            "seed": SEED,
            "warmup_texts": WARMUP_TEXTS,
            "latency_texts": LATENCY_TEXTS,
            "batch_size": BATCH_SIZE,
            "batches": BATCHES,
            "wrk": f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{WRK_SECONDS}s --latency ({WRK_BODIES} bodies)",
        },
    }


def main() -> int:
    """Measure, print the report, write it to build/bench; 0 unless something went unmeasured."""
    started = time.perf_counter()
    if sys.argv[1:] == ["--report-only"]:  # the table again, from the last run's raw numbers
        raw = json.loads((OUT / "results.json").read_text())["raw"]
        started -= raw["total_seconds"]
    else:
        try:
            raw = run_measurements()
        except (BenchError, LoadTestError) as error:
            print(f"bench: could not measure: {error}", file=sys.stderr)
            return 1
    rows = model_bench_rows(raw, SETTINGS)
    total = time.perf_counter() - started
    info = machine()
    raw["machine"], raw["total_seconds"] = info, total
    info["flags"] = cpu_flags()
    markdown = (
        f"{machine_line(info)}\nCPU flags: {info['flags']}\n\n{markdown_table(rows)}\n\n"
        f"Total benchmark time: {total:.0f} s"
    )
    print(markdown)
    write_results(OUT, markdown, rows, raw)
    progress(f"wrote {relative(OUT / 'results.md')} and {relative(OUT / 'results.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
