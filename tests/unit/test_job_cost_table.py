"""docs/aws.md's time and cost of a million rows through a bulk job, recomputed from the template's
defaults (batch size, concurrency, the batch function's memory), the classify workflow's Retry and the
prices the page states, so the page cannot drift from what the stack deploys."""

from __future__ import annotations

import json
import math
import re

from sentiment_template.reader import load
from tests.conftest import ROOT

PAGE = ROOT / "docs/aws.md"
SECTION = "## A million rows through a bulk job: time and cost"
ROWS = 1_000_000
MODEL_S_PER_TEXT = {"VNNI": 0.00313, "AVX2": 0.016}  # the benchmark's figures the page quotes
CHILD_OVERHEAD_S = 0.1  # the page's assumption
TRANSITION = 0.025 / 1000
LAMBDA_ARM_GB_S = 0.0000133334
SERVERLESS_S = 0.00004


def _section() -> str:
    text = PAGE.read_text()
    start = text.index(SECTION)
    return text[start : text.index("\n## ", start + len(SECTION))]


def _defaults() -> dict[str, int]:
    template = load(ROOT / "template.yaml")
    parameters = template["Parameters"]
    batch_function = template["Resources"]["ClassifyBatchFunction"]["Properties"]
    return {
        "batch": int(parameters["JobBatchSize"]["Default"]),
        "concurrency": int(parameters["JobMaxConcurrency"]["Default"]),
        "memory": int(batch_function.get("MemorySize", template["Globals"]["Function"]["MemorySize"])),
    }


def test_the_batches_and_the_batch_functions_memory_are_the_templates() -> None:
    section, defaults = _section(), _defaults()
    batches = math.ceil(ROWS / defaults["batch"])
    assert f"`JobBatchSize` ({defaults['batch']})" in section
    assert f"`JobMaxConcurrency` ({defaults['concurrency']})" in section
    assert f"A million rows are therefore {batches:,} batches" in section
    assert f"`ClassifyBatchFunction`, {defaults['memory']} MB arm64" in section


def test_the_dev_serverless_time_is_the_batches_over_the_concurrency() -> None:
    defaults = _defaults()
    rounds = math.ceil(ROWS / defaults["batch"]) / defaults["concurrency"]
    minutes = [
        round(rounds * (defaults["batch"] * per_text + CHILD_OVERHEAD_S) / 60) for per_text in MODEL_S_PER_TEXT.values()
    ]
    assert (
        f"| {defaults['concurrency']} | 0.3 s (VNNI) – 1.1 s (AVX2) | {minutes[0]} – {minutes[1]} min |" in _section()
    )


def test_the_costs_follow_from_the_batches_and_the_prices() -> None:
    section, defaults = _section(), _defaults()
    batches = math.ceil(ROWS / defaults["batch"])
    assert f"| {batches:,} | ${batches * TRANSITION:.2f} |" in section
    gb_seconds = defaults["memory"] / 1024 * 0.5 * batches
    assert f"| {round(gb_seconds, -2):,.0f} GB-s | ${gb_seconds * LAMBDA_ARM_GB_S + batches * 0.2e-6:.2f} |" in section
    billed = [batches * defaults["batch"] * per_text for per_text in MODEL_S_PER_TEXT.values()]
    assert f"${billed[0] * SERVERLESS_S + 0.2 * 0.016:.2f} – ${billed[1] * SERVERLESS_S + 0.2 * 0.016:.2f}" in section


def _retries(node: object) -> list[dict[str, object]]:
    if isinstance(node, dict):
        found = [retry for retry in node.get("Retry", []) if isinstance(retry, dict)]
        return found + [retry for value in node.values() for retry in _retries(value)]
    if isinstance(node, list):
        return [retry for value in node for retry in _retries(value)]
    return []


def test_the_retry_the_page_describes_is_the_workflows() -> None:
    # The numbers are substituted unquoted by the template (DefinitionSubstitutions): any number reads.
    text = re.sub(r"\$\{Job\w+\}", "1", (ROOT / "statemachine" / "classify.asl.json").read_text())
    on_the_model = [
        retry
        for retry in _retries(json.loads(text))
        if "ModelUnavailableError" in retry["ErrorEquals"]  # type: ignore[operator]
    ]
    assert on_the_model, "the batch's Retry on the model"
    assert {(r["MaxAttempts"], r["IntervalSeconds"], r["BackoffRate"]) for r in on_the_model} == {(5, 5, 2)}
    assert "(5 attempts, from 5 s, doubling)" in _section()
