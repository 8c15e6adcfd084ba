"""Imports run one way between the local stack, the deployer and the template package: ``sentiment_local``
may import ``sentiment_deploy`` and ``sentiment_template``, ``sentiment_deploy`` may import
``sentiment_template``, and ``sentiment_template`` imports neither. Read from the source (every import,
a function's own included), so a late import cannot hide a cycle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = {
    "sentiment_template": ROOT / "stack_template" / "sentiment_template",
    "sentiment_deploy": ROOT / "deploy" / "sentiment_deploy",
    "sentiment_local": ROOT / "local_stack" / "sentiment_local",
}
# What each package must not import.
FORBIDDEN = {
    "sentiment_template": {"sentiment_deploy", "sentiment_local"},
    "sentiment_deploy": {"sentiment_local"},
    "sentiment_local": set(),
}


def imported_packages(source: str) -> Iterator[tuple[int, str]]:
    """``(line, top-level package)`` of every absolute import in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module.split(".")[0]


def back_imports(package: str, folder: Path) -> list[str]:
    return [
        f"{path.relative_to(folder.parent)}:{line} imports {imported}"
        for path in sorted(folder.rglob("*.py"))
        for line, imported in imported_packages(path.read_text())
        if imported in FORBIDDEN[package]
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_runs_back_up(package: str) -> None:
    assert back_imports(package, PACKAGES[package]) == []


def test_a_back_import_is_found_even_inside_a_function(tmp_path: Path) -> None:
    # given a template module that reaches into the local stack from inside a function
    package = tmp_path / "sentiment_template"
    package.mkdir()
    (package / "reader.py").write_text("import yaml\n\n\ndef load():\n    from sentiment_local.stack import Stack\n")
    # then the check names it
    assert back_imports("sentiment_template", package) == ["sentiment_template/reader.py:5 imports sentiment_local"]
