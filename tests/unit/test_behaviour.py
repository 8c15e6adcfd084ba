"""The behavioural suite's runner: MFT, INV and DIR verdicts on hand-made scores, the rates it reports, and
the suite itself (enough cases per capability, every change a change, and never trained on)."""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from sentiment_model.behaviour.runner import DIR_TOLERANCE, INV_TOLERANCE, dir_passed, inv_passed, mft_passed, run
from sentiment_model.behaviour.suite import CAPABILITIES, Dir, Inv, Mft, cases
from sentiment_model.data import fold_text, read_split
from tests.conftest import DATA, ROOT

NEG, NEU, POS = [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]


def scores(*rows: Sequence[float]) -> NDArray[np.float64]:
    return np.array(rows, dtype=np.float64)


class TableScorer:
    """Answers each text with the probabilities it is given, and records the batches it was asked."""

    def __init__(self, table: dict[str, Sequence[float]]) -> None:
        self.table = table
        self.batches: list[list[str]] = []

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        self.batches.append(list(texts))
        return scores(*(self.table[text] for text in texts))


# ---- verdicts ----


def test_an_mft_passes_when_the_most_probable_label_is_one_of_those_expected() -> None:
    verdicts = mft_passed(
        scores(NEG, NEU, POS, NEU), [("negative",), ("negative",), ("neutral", "positive"), ("neutral", "positive")]
    )
    assert verdicts.tolist() == [True, False, True, True]


def test_an_inv_fails_when_the_label_changes_or_a_score_moves_beyond_the_tolerance() -> None:
    before = scores(POS, POS, POS, POS)
    moved_within = [0.1 + INV_TOLERANCE - 0.01, 0.1, 0.8 - INV_TOLERANCE + 0.01]
    moved_beyond = [0.1 + INV_TOLERANCE + 0.05, 0.1, 0.8 - INV_TOLERANCE - 0.05]  # still positive, but moved
    after = scores(POS, moved_within, moved_beyond, NEG)
    assert inv_passed(before, after).tolist() == [True, True, False, False]


def test_a_dir_passes_when_the_label_moves_its_way_or_back_by_no_more_than_the_tolerance() -> None:
    before = scores([0.5, 0.2, 0.3], [0.5, 0.2, 0.3], [0.5, 0.2, 0.3], [0.5, 0.2, 0.3])
    after = scores(
        [0.7, 0.1, 0.2],  # P(negative) rose: passes "rises"
        [0.5 - DIR_TOLERANCE / 2, 0.2, 0.3 + DIR_TOLERANCE / 2],  # fell by less than the tolerance: passes
        [0.3, 0.2, 0.5],  # fell by 0.2: fails "rises"
        [0.3, 0.2, 0.5],  # and passes "falls"
    )
    verdicts = dir_passed(before, after, ["negative"] * 4, [True, True, True, False])
    assert verdicts.tolist() == [True, True, False, True]


def test_a_dir_looks_at_its_own_label_only() -> None:
    before, after = scores([0.2, 0.2, 0.6]), scores([0.6, 0.2, 0.2])
    assert dir_passed(before, after, ["positive"], [False]).tolist() == [True]
    assert dir_passed(before, after, ["positive"], [True]).tolist() == [False]


# ---- rates and failures ----


def test_rates_are_reported_per_capability_and_per_test_type_with_the_failures() -> None:
    suite = [
        Mft("negation", "not bad", ("positive",)),
        Mft("negation", "not good", ("negative",)),
        Inv("robustness", "Anna is great", "Tom is great", "name"),
        Dir("vocabulary", "ok", "ok, terrible", "terrible", "negative", True),
    ]
    scorer = TableScorer({"not bad": POS, "not good": POS, "Anna is great": POS, "Tom is great": NEG})
    scorer.table |= {"ok": NEU, "ok, terrible": NEG}
    report = run(scorer, suite)
    assert str(report.overall) == "0.50 (2/4)"
    assert {name: (rate.passed, rate.total) for name, rate in report.by_capability().items()} == {
        "vocabulary": (1, 1),
        "negation": (1, 2),
        "robustness": (0, 1),
    }
    assert {kind: (rate.passed, rate.total) for kind, rate in report.by_type().items()} == {
        "MFT": (1, 2),
        "INV": (0, 1),
        "DIR": (1, 1),
    }
    assert [outcome.case.text for outcome in report.failures("negation")] == ["not good"]
    text = report.as_text()
    assert "FAIL MFT 'not good' expected negative, got positive" in text
    assert "FAIL INV 'Anna is great' → 'Tom is great' (name)" in text
    assert report.as_dict()["capabilities"]["negation"] == {"rate": 0.5, "passed": 1, "total": 2}


def test_each_distinct_text_is_scored_once_in_batches_the_server_would_take() -> None:
    suite = [Mft("neutral", f"text {n}", ("neutral",)) for n in range(300)] + [Mft("neutral", "text 0", ("neutral",))]
    scorer = TableScorer({f"text {n}": NEU for n in range(300)})
    report = run(scorer, suite)
    assert report.overall.total == 301 and report.overall.passed == 301
    assert [len(batch) for batch in scorer.batches] == [256, 44]


# ---- the suite ----


def test_the_suite_has_hundreds_of_cases_and_every_capability_enough_for_a_rate() -> None:
    suite = cases()
    per_capability = Counter(case.capability for case in suite)
    assert len(suite) >= 300
    assert set(per_capability) == set(CAPABILITIES)
    assert min(per_capability.values()) >= 20, per_capability
    assert {type(case) for case in suite} == {Mft, Inv, Dir}
    assert suite == cases(), "the suite is the same every time it is built"


def test_every_invariance_and_directional_case_changes_its_text() -> None:
    unchanged = [case for case in cases() if isinstance(case, Inv | Dir) and case.changed == case.text]
    assert unchanged == []


def test_every_expected_label_is_a_label_the_model_knows() -> None:
    labels = {label for case in cases() if isinstance(case, Mft) for label in case.expected}
    labels |= {case.label for case in cases() if isinstance(case, Dir)}
    assert labels <= {"negative", "neutral", "positive"}


def test_no_text_of_the_suite_is_in_the_base_or_golden_data() -> None:
    """The suite measures from outside: none of its texts may be a training (or golden) row."""
    suite_texts = {fold_text(text) for case in cases() for text in (case.text, getattr(case, "changed", case.text))}
    data_texts = {fold_text(text) for split in ("base", "golden") for text in read_split(DATA / split)[0]["text"]}
    assert suite_texts.isdisjoint(data_texts), sorted(suite_texts & data_texts)


TRAINING_PATHS = [
    ROOT / "model_training" / "train.py",
    ROOT / "model_training" / "finetune.py",
    *sorted((ROOT / "model_training" / "sentiment_model").glob("*.py")),
    *sorted((ROOT / "functions" / "pipeline").rglob("*.py")),
]


@pytest.mark.parametrize("path", TRAINING_PATHS, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_training_path_imports_the_suite(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if "behaviour" in name]
