"""How ``bench/objectivity.py`` keeps the move's constants: nothing that changes a held-out review."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from tests.conftest import ROOT


def load_bench() -> Any:
    if str(ROOT / "bench") not in sys.path:
        sys.path.append(str(ROOT / "bench"))  # the script's own imports (report)
    spec = importlib.util.spec_from_file_location("bench_objectivity", ROOT / "bench" / "objectivity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


kept = load_bench().kept


def row(weight: float, *, changed: int = 0, tweets: float = 0.78, plots: float = 0.0) -> dict[str, Any]:
    return {
        "threshold": 0.8,
        "weight": weight,
        "power": 1.0,
        "reviews_changed": changed,
        "tweets_macro_f1": tweets,
        "plots_neutral": plots,
    }


def test_the_most_plot_sentences_neutral_among_settings_that_cost_nothing() -> None:
    heads = row(0.0, plots=0.01)
    best_but_costly = row(1.0, changed=1, plots=0.40)
    tweets_fall = row(0.75, tweets=0.779, plots=0.30)
    costless = row(0.5, plots=0.20)
    assert kept([heads, best_but_costly, tweets_fall, costless]) is costless


def test_a_tie_keeps_the_smaller_weight_and_nothing_costless_keeps_the_heads_alone() -> None:
    heads = row(0.0)
    assert kept([heads, row(1.0, plots=0.2), smaller := row(0.5, plots=0.2)]) is smaller
    assert kept([heads, row(1.0, changed=2, plots=0.3)]) is heads
