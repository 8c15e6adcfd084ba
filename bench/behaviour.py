"""Benchmark: the behavioural suite (``sentiment_model.behaviour``) against one or more model folders.

Loads each model as the server loads it, scores the suite's texts in batches of 256 and prints the pass
rate overall, per test type (MFT, INV, DIR) and per capability, with a few failures of each, and the
machine. The suite is an outside measuring set, never trained on; the floors the tests hold the committed
model to are in ``tests/integration/test_behaviour_floors.py``. Writes ``build/bench/behaviour.md`` (the
table, the machine and the failures) and ``build/bench/behaviour.json``. No PyTorch needed; seconds.

    .venv/bin/python bench/behaviour.py [MODEL_DIR ...]    (default: build/model)

(with the PYTHONPATH the Makefile exports, as ``make bench`` and ``make bench ONLY=behaviour`` run it)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from report import Row, machine, machine_line, markdown_table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "model_training"))  # the same as PYTHONPATH=model_training

from sentiment_model.artifact import kind_of  # noqa: E402
from sentiment_model.behaviour.runner import Report, run  # noqa: E402
from sentiment_model.behaviour.suite import CAPABILITIES  # noqa: E402
from sentiment_model.serving import load_model  # noqa: E402

OUT = ROOT / "build" / "bench"
MEASURED = "measured"


def rows_for(name: str, report: Report, seconds: float) -> list[Row]:
    """The suite's rows for one model: overall (with the time it took), each test type, each capability."""
    overall = f"Behaviour suite, {name}: all {report.overall.total} cases (loaded and scored in {seconds:.1f} s)"
    rows = [Row(overall, MEASURED, str(report.overall))]
    rows += [Row(f"Behaviour suite, {name}: {kind}", MEASURED, str(rate)) for kind, rate in report.by_type().items()]
    rows += [
        Row(f"Behaviour suite, {name}: {capability} ({CAPABILITIES[capability]})", MEASURED, str(rate))
        for capability, rate in report.by_capability().items()
    ]
    return rows


def failures_text(name: str, report: Report) -> str:
    lines = [f"Failures, {name} (a few per capability):"]
    lines += [f"- {line.strip()}" for line in report.as_text().splitlines() if line.strip().startswith("FAIL ")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("models", nargs="*", type=Path, default=[ROOT / "build" / "model"])
    args = parser.parse_args(argv)
    rows: list[Row] = []
    failures: list[str] = []
    raw: dict[str, Any] = {}
    for folder in args.models:
        if not (folder / "metadata.json").exists():
            print(f"bench: behaviour: no model in {folder} (make train writes build/model)", file=sys.stderr)
            return 1
        started = time.perf_counter()
        model = load_model(str(folder))
        report = run(model.scorer)
        seconds = time.perf_counter() - started
        name = f"{kind_of(model.metadata)} ({folder.name})"
        rows += rows_for(name, report, seconds)
        failures.append(failures_text(name, report))
        raw[str(folder)] = {"version": model.version, "seconds": seconds, **report.as_dict()}
    info = machine()
    markdown = "\n\n".join([machine_line(info), markdown_table(rows), *failures])
    print(markdown)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "behaviour.md").write_text(markdown + "\n")
    document = {"machine": info, "rows": [{**asdict(row), "verdict": row.verdict} for row in rows], "raw": raw}
    (OUT / "behaviour.json").write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
