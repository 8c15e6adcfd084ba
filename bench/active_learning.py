"""Benchmark: what 100 labels teach the model about a domain it never trained on, when the review queue
picks them against when they are picked at random, through the real loop.

The domain: Amazon product-review sentences rated by people (``bench/data/amazon_snippets.csv``, from
VADER's corpus; see ``bench/data/vader_snippets.py``). Neither training set holds product reviews.
Split once with a fixed seed: a held-out test set of 1,200 sentences the loop never sees, and a pool
of 2,000 that people would send.

Each arm starts its own ``make up`` (threshold 100, no interval guard), sends the pool through
``POST /comments/batch``, and labels 100 of them with their true label through ``POST /feedback``:

- *queue*: the first 100 of ``GET /comments?needs_review=true`` (smallest margin first);
- *random*: 100 drawn at random from the pool, three times with three seeds (one draw is noisy).

The 100th label starts a retraining run (S3 notification → trigger → state machine → training job →
evaluation). The candidate it trained, promoted or not, is read from the stack's bucket and scored on
the test set, as is the first champion. Prints a Markdown row per figure and writes
``build/bench/active_learning.json``.

    .venv/bin/python bench/active_learning.py
"""

from __future__ import annotations

import csv
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import boto3
import httpx
from sklearn.metrics import f1_score

from loadtest import free_port, local_stack_env, running_local_stack
from report import Row, at_least, machine, machine_line, markdown_table, number
from retrain_loop import LOCAL_STACK_UP, ROOT
from sentiment_model.artifact import load_archive_bytes
from sentiment_model.data import LABELS
from sentiment_model.scorers import scorer_for

DATA = ROOT / "bench" / "data" / "amazon_snippets.csv"
OUT = ROOT / "build" / "bench"
SEED = 5
RANDOM_SEEDS = (5, 6, 7)
TEST_ROWS = 1200
POOL_ROWS = 2000
LABELLED = 100
BATCH = 25
RUN_TIMEOUT_S = 900


def split() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    with DATA.open(newline="") as handle:
        rows = [(row["text"], row["label"]) for row in csv.DictReader(handle)]
    random.Random(SEED).shuffle(rows)  # noqa: S311 - a fixed split, not a secret
    return rows[:TEST_ROWS], rows[TEST_ROWS : TEST_ROWS + POOL_ROWS]


def send_pool(api: httpx.Client, pool: list[tuple[str, str]]) -> dict[str, str]:
    """Comment id → true label, for every sentence of the pool."""
    truth: dict[str, str] = {}
    for start in range(0, len(pool), BATCH):
        chunk = pool[start : start + BATCH]
        answer = api.post("/comments/batch", json={"comments": [text for text, _ in chunk]})
        answer.raise_for_status()
        for item in answer.json()["results"]:
            truth[item["comment_id"]] = chunk[item["index"]][1]
    return truth


def choose(api: httpx.Client, arm: str, truth: dict[str, str]) -> list[str]:
    if arm.startswith("random-"):
        seed = int(arm.removeprefix("random-"))
        return random.Random(seed).sample(sorted(truth), LABELLED)  # noqa: S311 - a fixed draw
    page = api.get("/comments", params={"needs_review": "true", "limit": LABELLED})
    page.raise_for_status()
    return [item["comment_id"] for item in page.json()["items"]]


def wait_for_run(api: httpx.Client) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = api.get("/training", params={"limit": 1}).json()["items"]
        if runs and runs[0]["status"] != "RUNNING":
            run: dict[str, Any] = runs[0]
            if run["status"] != "SUCCEEDED":
                raise RuntimeError(f"run {run['run_id']} ended {run['status']}: {run.get('error')}")
            return run
        time.sleep(2)
    raise RuntimeError(f"no retraining run finished within {RUN_TIMEOUT_S} s")


def macro_f1(api: httpx.Client, aws: str, version: str, test: list[tuple[str, str]]) -> float:
    """The registered ``version`` read from the stack's bucket, scored on the test set."""
    model = api.get(f"/models/{version}").json()
    bucket, key = model["model_data_url"].removeprefix("s3://").split("/", 1)
    s3 = boto3.client(
        "s3",
        endpoint_url=aws,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - the local stack's stand-in key
    )
    archive = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    scorer = scorer_for(load_archive_bytes(archive, model["sha256"]))
    probabilities = scorer.predict_proba([text for text, _ in test])
    predicted = [LABELS[index] for index in probabilities.argmax(axis=1)]
    return round(float(f1_score([label for _, label in test], predicted, average="macro", labels=list(LABELS))), 4)


def run_arm(arm: str, test: list[tuple[str, str]], pool: list[tuple[str, str]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"active-learning-{arm}-") as scratch:
        data = Path(scratch)
        port = free_port()
        # The labels play a reviewer's: they train (a public label is only a suggestion by default).
        env = local_stack_env(
            data,
            port,
            RETRAIN_THRESHOLD=str(LABELLED),
            RETRAIN_MIN_INTERVAL_MINUTES="0",
            RETRAIN_MAX_PER_DAY="100",
            PUBLIC_LABELS="train",
        )
        with (
            running_local_stack(LOCAL_STACK_UP, env, data / "stack.log"),
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as api,
        ):
            truth = send_pool(api, pool)
            first = api.get("/models").json()["champion"]
            chosen = choose(api, arm, truth)
            for comment_id in chosen:
                api.post("/feedback", json={"comment_id": comment_id, "label": truth[comment_id]}).raise_for_status()
            run = wait_for_run(api)
            aws = f"http://127.0.0.1:{env['MOTO_PORT']}"
            return {
                "arm": arm,
                "labels": label_counts(truth[comment_id] for comment_id in chosen),
                "run": run["run_id"],
                "decision": run["decision"],
                "reasons": run["reasons"],
                "first_champion": first,
                "candidate": run["candidate_version"],
                "first_champion_macro_f1": macro_f1(api, aws, first, test),
                "candidate_macro_f1": macro_f1(api, aws, run["candidate_version"], test),
            }


def label_counts(labels: Iterable[str]) -> dict[str, int]:
    counted = Counter(labels)
    return {label: counted[label] for label in LABELS}


def described(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {label}" for label, count in counts.items())


def main() -> int:
    test, pool = split()
    try:
        arms = {arm: run_arm(arm, test, pool) for arm in ("queue", *(f"random-{seed}" for seed in RANDOM_SEEDS))}
    except (RuntimeError, httpx.HTTPError) as error:
        print(f"active learning: not measured: {error}", file=sys.stderr)
        return 1
    before = arms["queue"]["first_champion_macro_f1"]
    queue = arms["queue"]["candidate_macro_f1"]
    draws = [arms[f"random-{seed}"]["candidate_macro_f1"] for seed in RANDOM_SEEDS]
    chance = round(sum(draws) / len(draws), 4)
    decisions = ", ".join(arms[f"random-{seed}"]["decision"] for seed in RANDOM_SEEDS)
    rows = [
        Row("unseen domain (Amazon product reviews, 1,200 held out): macro-F1 with no labels", "—", number(before)),
        Row(
            f"… after {LABELLED} labels the review queue chose ({described(arms['queue']['labels'])}; "
            f"{arms['queue']['decision']})",
            "above random",
            number(queue),
            at_least(queue, chance + 1e-9),
        ),
        Row(
            f"… after {LABELLED} labels chosen at random: mean of {len(draws)} draws ({decisions})",
            "—",
            f"{number(chance)} ({min(draws):.4f}–{max(draws):.4f})",
        ),
    ]
    print(markdown_table(rows))
    print()
    print(machine_line(machine()))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "active_learning.json").write_text(json.dumps({"machine": machine(), **arms}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
