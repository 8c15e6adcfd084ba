"""The benchmark's table: rows with a target and a verdict, the machine, Markdown and JSON."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PASS, FAIL, INFO = "pass", "FAIL", "—"


@dataclass(frozen=True)
class Row:
    """One line of the table. ``passed`` is None for rows without a target (the anchors)."""

    measure: str
    target: str
    result: str
    passed: bool | None = None

    @property
    def verdict(self) -> str:
        return INFO if self.passed is None else PASS if self.passed else FAIL


def at_least(value: float | None, bound: float) -> bool:
    """``value >= bound``; a missing value fails."""
    return value is not None and value >= bound


def at_most(value: float | None, bound: float) -> bool:
    """``value <= bound``; a missing value fails."""
    return value is not None and value <= bound


def number(value: float | None, digits: int = 4, unit: str = "") -> str:
    """``value`` rounded for the table, ``n/a`` when missing."""
    if value is None:
        return "n/a"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}" if unit else text


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _core_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine() -> dict[str, Any]:
    """CPU model, usable cores, Python version and operating system."""
    return {
        "cpu": _cpu_model(),
        "cores": _core_count(),
        "python": platform.python_version(),
        "system": platform.system(),
    }


def machine_line(info: dict[str, Any]) -> str:
    return f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']} ({info['system']})"


def markdown_table(rows: list[Row]) -> str:
    """The rows as a Markdown table with aligned columns."""
    header = ("Measure", "Target", "Result", "Pass")
    cells = [header, *((row.measure, row.target, row.result, row.verdict) for row in rows)]
    widths = [max(len(line[column]) for line in cells) for column in range(len(header))]

    def line(values: tuple[str, ...]) -> str:
        return "| " + " | ".join(value.ljust(width) for value, width in zip(values, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), separator, *(line(values) for values in cells[1:])])


def write_results(directory: Path, markdown: str, rows: list[Row], raw: dict[str, Any]) -> None:
    """``results.md`` (the printed report) and ``results.json`` (rows and raw numbers)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.md").write_text(markdown + "\n")
    document = {"rows": [{**asdict(row), "verdict": row.verdict} for row in rows], "raw": raw}
    (directory / "results.json").write_text(json.dumps(document, indent=2) + "\n")
