"""The model benchmark's table (``bench/report.py``), from raw numbers as ``bench/run.py`` records them: each
row's target, result and verdict, and the Markdown it prints."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

from tests.conftest import ROOT


def load_report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


report = load_report()
SETTINGS = report.ModelBenchSettings(("encoder", "tfidf"), 2000, 256, 10, 100, 2, 8, 15)


def latency(mean: float) -> dict[str, float]:
    return {"mean_ms": mean, "p50_ms": mean * 0.9, "p99_ms": mean * 2}


def server(requests_per_second: float, non_2xx: int = 0) -> dict[str, Any]:
    return {
        "requests_per_second": requests_per_second,
        "p50_ms": 3.0,
        "p99_ms": 45.0,
        "non_2xx": non_2xx,
        "socket_errors": 0,
        "requests": 12345,
        "ready_seconds": 4.5,
    }


RAW: dict[str, Any] = {
    "training": {
        "encoder": {
            "seconds": 250.0,
            "summary": {"reviews_accuracy": 0.85, "tweets_macro_f1": 0.78},
            "archive_bytes": 9e6,
        },
        "tfidf": {"seconds": 30.0, "summary": {"reviews_accuracy": 0.8}, "archive_bytes": 2e6},
        "encoder_warm": {"seconds": 170.25},
    },
    "reference": {"reviews_accuracy": 0.79, "tweets_macro_f1": 0.71},
    "unseen_domains": {
        kind: {
            "rows": 400,
            "macro_f1": 0.8,
            "held_out_macro_f1_before": 0.79,
            "held_out_macro_f1_after_feedback": 0.88,
            "feedback_rows": 200,
        }
        for kind in ("encoder", "tfidf")
    },
    "latency_ms": {
        "encoder": {
            "single": latency(5.5),
            "batch_256": latency(900),
            "explanation": {"golden": latency(40), "longest_p50_ms": 3900},
        },
        "tfidf": {
            "single": latency(0.15),
            "batch_256": latency(40),
            "explanation": {"golden": latency(4), "longest_p50_ms": 4100},
        },
        "reference": {"single": latency(0.3), "batch_256": latency(60)},
    },
    "server": {
        "encoder": server(900),
        "reference_transformer": server(250),
        "tfidf": server(5000, 1),
        "reference": server(0),
    },
    "image": {"packages": 300.4, "encoder": 23.2, "data": 12.1, "code": 0.35, "torch_in_packages": 0.0},
}


def rows_by_measure() -> dict[str, Any]:
    return {row.measure: row for row in report.model_bench_rows(RAW, SETTINGS)}


def test_a_bounded_row_names_its_target_and_passes_within_it() -> None:
    row = rows_by_measure()["Retraining run (encoder, heads only, warm embedding cache), train.py wall clock"]
    assert (row.target, row.result, row.verdict) == ("≤ 180 s", "170.2 s", "pass")


def test_a_score_under_its_floor_fails() -> None:
    row = rows_by_measure()["Tweets macro-F1 (golden), encoder"]
    assert (row.target, row.result, row.verdict) == ("≥ 0.79", "0.7800", "FAIL")


def test_a_row_over_its_ceiling_fails_and_an_anchor_has_no_verdict() -> None:
    rows = rows_by_measure()
    explained = next(
        row for measure, row in rows.items() if measure.startswith("Explanation of one comment") and "tfidf" in measure
    )
    assert explained.verdict == "FAIL"
    assert rows["Single text mean / 256-text batch mean, seeds' pipeline"].verdict == "—"


def test_a_server_without_a_measured_anchor_gets_no_ratio_and_fails() -> None:
    row = rows_by_measure()["Server throughput (wrk -t2 -c8 15 s, 1 worker), tfidf"]
    assert row.result == "5,000 req/s (n/a× its 0 req/s)"
    assert row.verdict == "FAIL"


def test_the_table_has_every_row_in_order_with_aligned_columns() -> None:
    rows = report.model_bench_rows(RAW, SETTINGS)
    lines = report.markdown_table(rows).splitlines()
    assert len(lines) == 2 + len(rows) == 29
    assert len({len(line) for line in lines}) == 1
    assert lines[2].startswith("| Retraining run") and lines[-1].startswith(
        "| Failed requests under load, seeds-style scikit-learn"
    )
