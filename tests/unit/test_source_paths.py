"""The source folders are listed once, in pyproject.toml's ``[tool.pytest.ini_options] pythonpath``.

The Makefile derives its PYTHONPATH from that list. Ruff's ``src`` and mypy's ``mypy_path`` are read by tools
that cannot refer to another table, so they are written out again: these tests hold them to the one list, and
a folder added there fails here, naming the lines to add it to.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# Ruff sorts these as first-party imports too, but they are not on the path: they are not imported from
# elsewhere (the tests import each other by package; the benchmark's scripts import their neighbours).
RUFF_ONLY = ["tests", "bench"]


def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def source_paths(config: dict[str, Any]) -> list[str]:
    paths: list[str] = config["tool"]["pytest"]["ini_options"]["pythonpath"]
    return paths


def test_every_source_folder_exists() -> None:
    missing = [path for path in source_paths(pyproject()) if not (ROOT / path).is_dir()]
    assert not missing, f"pythonpath lists folders that do not exist: {missing}"


def test_ruff_knows_the_source_folders_as_first_party() -> None:
    config = pyproject()
    expected = [*source_paths(config), *RUFF_ONLY]
    assert config["tool"]["ruff"]["src"] == expected, f"[tool.ruff] src = {expected}"


def test_mypy_searches_the_source_folders() -> None:
    config = pyproject()
    expected = ":".join(source_paths(config))
    assert config["tool"]["mypy"]["mypy_path"] == expected, f'[tool.mypy] mypy_path = "{expected}"'


def test_mypy_checks_every_package_in_the_source_folders() -> None:
    # Given every Python package at the top of a source folder
    config = pyproject()
    packages = sorted(
        folder.name
        for path in source_paths(config)
        for folder in (ROOT / path).iterdir()
        if (folder / "__init__.py").is_file()
    )
    # Then mypy's packages are those
    assert sorted(config["tool"]["mypy"]["packages"]) == packages, f"[tool.mypy] packages = {packages}"


def test_the_makefile_puts_the_source_folders_on_the_path() -> None:
    # When make reads its PYTHONPATH (printed by a dry run of its database)
    completed = subprocess.run(
        ["make", "--no-print-directory", "-pn", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "MAKEFLAGS"}},
    )
    line = next(line for line in completed.stdout.splitlines() if line.startswith("PYTHONPATH :="))
    # Then it is the list, in its order, under the checkout
    expected = ":".join(str(ROOT / path) for path in source_paths(pyproject()))
    assert line.removeprefix("PYTHONPATH := ") == expected
