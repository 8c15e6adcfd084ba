"""Read what the functions log: the shared Powertools Logger's JSON lines, captured by capsys."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from sentiment_common.observability import logger


class _CurrentStdout:
    """Writes to whatever ``sys.stdout`` is at the time: capsys swaps it between a test's phases."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@contextmanager
def logs_to_capsys() -> Iterator[None]:
    """The Logger's handler holds the stdout of the moment it was made; point it at the current one, at DEBUG."""
    level = logger.log_level
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(logger.registered_handler, "stream", _CurrentStdout())
        logger.setLevel(logging.DEBUG)
        try:
            yield
        finally:
            logger.setLevel(level)


def json_lines(output: str) -> list[dict[str, Any]]:
    """Every JSON object printed: log lines and EMF metric documents alike."""
    lines = []
    for line in output.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            lines.append(parsed)
    return lines


def logged(output: str, message: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(output) if line.get("message") == message]


def emitted(output: str, metric: str) -> list[tuple[str, list[float]]]:
    """``(unit, values)`` of ``metric`` in each EMF document printed."""
    found = []
    for document in json_lines(output):
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            for definition in directive["Metrics"]:
                if definition["Name"] == metric:
                    values = document[metric]
                    found.append((definition["Unit"], values if isinstance(values, list) else [values]))
    return found
