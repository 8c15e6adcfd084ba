"""Score the behavioural suite with a model folder and report its pass rate per capability and per test type.

The verdicts, on the model's probabilities (columns in :data:`~sentiment_model.data.LABELS` order):

- MFT: the text's label (the most probable) is one of those expected;
- INV: the label is unchanged, and none of the three scores moves by more than :data:`INV_TOLERANCE`;
- DIR: P(label) moves the expected way, or the other way by at most :data:`DIR_TOLERANCE` (CheckList's
  monotonic expectation: a text already at 0.99 cannot rise, and a hair's move back is noise).

    python -m sentiment_model.behaviour build/model [--json build/behaviour.json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sentiment_model.behaviour.suite import CAPABILITIES, Case, Dir, Inv, Mft, cases
from sentiment_model.data import LABELS
from sentiment_model.scorers import Scorer
from sentiment_model.serving import MAX_INSTANCES, load_model

INV_TOLERANCE = 0.20
DIR_TOLERANCE = 0.05
TEST_TYPES = ("MFT", "INV", "DIR")
FAILURES_SHOWN = 2  # per capability and test type

Probabilities = NDArray[np.float64]


def mft_passed(probabilities: Probabilities, expected: Sequence[Sequence[str]]) -> NDArray[np.bool_]:
    """Row by row: the most probable label is one of the row's expected labels."""
    predicted = probabilities.argmax(axis=1)
    return np.array([LABELS[index] in allowed for index, allowed in zip(predicted, expected, strict=True)], dtype=bool)


def inv_passed(before: Probabilities, after: Probabilities, tolerance: float = INV_TOLERANCE) -> NDArray[np.bool_]:
    """Row by row: the same label, and no score moved by more than ``tolerance``."""
    same_label = before.argmax(axis=1) == after.argmax(axis=1)
    return np.asarray(same_label & (np.abs(after - before).max(axis=1) <= tolerance), dtype=bool)


def dir_passed(
    before: Probabilities,
    after: Probabilities,
    labels: Sequence[str],
    rises: Sequence[bool],
    tolerance: float = DIR_TOLERANCE,
) -> NDArray[np.bool_]:
    """Row by row: P(the row's label) moved the row's way, or the other way by at most ``tolerance``."""
    columns = np.array([LABELS.index(label) for label in labels], dtype=np.intp)
    rows = np.arange(len(columns))
    moved = after[rows, columns] - before[rows, columns]
    signed = np.where(np.asarray(rises, dtype=bool), moved, -moved)
    return np.asarray(signed >= -tolerance, dtype=bool)


@dataclass(frozen=True)
class Outcome:
    case: Case
    passed: bool
    detail: str  # what the model answered, for a reader of the failures

    @property
    def test_type(self) -> str:
        return type(self.case).__name__.upper()


@dataclass(frozen=True)
class Rate:
    passed: int
    total: int

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.rate:.2f} ({self.passed}/{self.total})"


@dataclass(frozen=True)
class Report:
    outcomes: list[Outcome]

    @property
    def overall(self) -> Rate:
        return _rate(self.outcomes)

    def by_capability(self) -> dict[str, Rate]:
        return {name: _rate(o for o in self.outcomes if o.case.capability == name) for name in self.capabilities}

    def by_type(self) -> dict[str, Rate]:
        present = [kind for kind in TEST_TYPES if any(o.test_type == kind for o in self.outcomes)]
        return {kind: _rate(o for o in self.outcomes if o.test_type == kind) for kind in present}

    @property
    def capabilities(self) -> list[str]:
        seen = {outcome.case.capability for outcome in self.outcomes}
        return [name for name in CAPABILITIES if name in seen]

    def failures(self, capability: str, limit: int = FAILURES_SHOWN) -> list[Outcome]:
        """The first ``limit`` failures of each test type in ``capability``."""
        failed = [o for o in self.outcomes if o.case.capability == capability and not o.passed]
        return [outcome for kind in TEST_TYPES for outcome in [o for o in failed if o.test_type == kind][:limit]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": _rate_dict(self.overall),
            "capabilities": {name: _rate_dict(rate) for name, rate in self.by_capability().items()},
            "test_types": {name: _rate_dict(rate) for name, rate in self.by_type().items()},
            "failures": {
                name: [_failure_dict(outcome) for outcome in self.failures(name)] for name in self.capabilities
            },
            "tolerances": {"inv": INV_TOLERANCE, "dir": DIR_TOLERANCE},
        }

    def as_text(self) -> str:
        lines = [f"behaviour suite: {self.overall} passed"]
        lines += [f"  {kind}: {rate}" for kind, rate in self.by_type().items()]
        for name, rate in self.by_capability().items():
            lines.append(f"{name}: {rate}")
            lines += [f"  FAIL {_failure_line(outcome)}" for outcome in self.failures(name)]
        return "\n".join(lines)


def _rate(outcomes: Any) -> Rate:
    verdicts = [outcome.passed for outcome in outcomes]
    return Rate(sum(verdicts), len(verdicts))


def _rate_dict(rate: Rate) -> dict[str, Any]:
    return {"rate": round(rate.rate, 4), "passed": rate.passed, "total": rate.total}


def _failure_dict(outcome: Outcome) -> dict[str, Any]:
    case = outcome.case
    changed = case.changed if isinstance(case, Inv | Dir) else None
    return {"type": outcome.test_type, "text": case.text, "changed": changed, "got": outcome.detail}


def _failure_line(outcome: Outcome) -> str:
    case = outcome.case
    if isinstance(case, Mft):
        return f"MFT {case.text!r} expected {'/'.join(case.expected)}, got {outcome.detail}"
    return f"{outcome.test_type} {case.text!r} → {case.changed!r} ({case.change}): {outcome.detail}"


def _scores(probabilities: NDArray[np.float64]) -> str:
    return " ".join(f"{label[:3]} {value:.2f}" for label, value in zip(LABELS, probabilities, strict=True))


def score_texts(scorer: Scorer, texts: Sequence[str], batch_size: int = MAX_INSTANCES) -> dict[str, Probabilities]:
    """Each distinct text's probabilities, scored in batches no larger than the server takes."""
    distinct = list(dict.fromkeys(texts))
    scored: dict[str, Probabilities] = {}
    for start in range(0, len(distinct), batch_size):
        batch = distinct[start : start + batch_size]
        scored.update(zip(batch, np.asarray(scorer.predict_proba(batch), dtype=np.float64), strict=True))
    return scored


def judge(suite: Sequence[Case], scored: dict[str, Probabilities]) -> Report:
    """Every case's verdict, from the probabilities of its texts."""
    outcomes: list[Outcome] = []
    for case in suite:
        before = scored[case.text][np.newaxis]
        if isinstance(case, Mft):
            passed = bool(mft_passed(before, [case.expected])[0])
            detail = f"{LABELS[int(before.argmax())]} ({_scores(before[0])})"
        else:
            after = scored[case.changed][np.newaxis]
            if isinstance(case, Inv):
                passed = bool(inv_passed(before, after)[0])
                detail = f"{_scores(before[0])} → {_scores(after[0])}"
            else:
                passed = bool(dir_passed(before, after, [case.label], [case.rises])[0])
                column = LABELS.index(case.label)
                way = "rise" if case.rises else "fall"
                detail = f"P({case.label}) {before[0, column]:.2f} → {after[0, column]:.2f}, expected to {way}"
        outcomes.append(Outcome(case, passed, detail))
    return Report(outcomes)


def run(scorer: Scorer, suite: Sequence[Case] | None = None) -> Report:
    """The suite (the whole one by default) scored by ``scorer`` and judged."""
    chosen = cases() if suite is None else list(suite)
    texts = [case.text for case in chosen] + [case.changed for case in chosen if isinstance(case, Inv | Dir)]
    return judge(chosen, score_texts(scorer, texts))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the behavioural suite against a model folder or archive.")
    parser.add_argument("model", help="a model folder (as make train writes build/model) or model.tar.gz")
    parser.add_argument("--json", type=Path, help="also write the report here, as JSON")
    args = parser.parse_args(argv)
    report = run(load_model(args.model).scorer)
    print(report.as_text())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n")
    return 0
