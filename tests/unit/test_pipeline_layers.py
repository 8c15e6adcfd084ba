"""The pipeline's logic runs on ports: its modules import no AWS SDK, adapter, DAL or handler, and the tests
of that logic run on the fakes, importing neither boto3 nor moto (the handlers' tests on moto are in
tests/integration/pipeline)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PIPELINE = ROOT / "functions" / "pipeline" / "pipeline_function"
LOGIC = sorted((PIPELINE / "logic").glob("*.py"))
HANDLERS = sorted(
    path.stem
    for path in PIPELINE.glob("*.py")
    if "lambda_handler" in path.read_text() or "_handler(" in path.read_text()
)
LOGIC_TESTS = [
    ROOT / "tests" / "unit" / name
    for name in (
        "test_pipeline_steps.py",
        "test_pipeline_trigger.py",
        "test_pipeline_logic.py",
        "test_feedback_compaction.py",
        "test_trust.py",
    )
]
AWS = ("boto3", "botocore", "moto")
# Modules that build AWS clients, or are built from them: the handlers' (dependencies.py) to assemble.
BUILT_ON_AWS = (
    *AWS,
    "pipeline_function.adapters",
    "pipeline_function.dependencies",
    "sentiment_common.dal",
    "sentiment_common.inference",
)


def runtime_imports(path: Path) -> Iterator[str]:
    """The modules ``path`` imports when it runs (imports for type checkers only are left out)."""
    tree = ast.parse(path.read_text())
    type_checking_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}
        for statement in block.body
        for node in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if id(node) in type_checking_only:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def refused(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(
        {
            name
            for name in runtime_imports(path)
            for prefix in prefixes
            if name == prefix or name.startswith(f"{prefix}.")
        }
    )


@pytest.mark.parametrize("module", LOGIC, ids=[path.stem for path in LOGIC])
def test_the_logic_imports_ports_models_and_helpers_only(module: Path) -> None:
    handlers = tuple(f"pipeline_function.{name}" for name in HANDLERS)
    assert refused(module, BUILT_ON_AWS + handlers) == []


@pytest.mark.parametrize("module", LOGIC_TESTS, ids=[path.stem for path in LOGIC_TESTS])
def test_the_logic_tests_run_on_the_fakes(module: Path) -> None:
    assert refused(module, (*BUILT_ON_AWS, "sentiment_local", "tests.integration", "tests.contract")) == []


def test_the_guard_sees_what_it_refuses(tmp_path: Path) -> None:
    module = tmp_path / "logic.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "import boto3\n"
        "from pipeline_function.adapters.s3 import S3DataStore\n"
        "if TYPE_CHECKING:\n"
        "    from sentiment_common.inference import ModelClient\n"
    )

    assert refused(module, BUILT_ON_AWS) == [
        "boto3",
        "pipeline_function.adapters.s3",
        "pipeline_function.adapters.s3.S3DataStore",
    ]
    assert set(HANDLERS) >= {"prepare", "evaluate", "deployment", "record", "trigger", "monitor", "compact"}
