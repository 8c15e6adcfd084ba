"""The job steps' logic and the API's jobs logic run on ports: they import no AWS SDK, adapter, DAL,
model client or handler (the handlers' tests on moto are in tests/integration/jobs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.unit.test_pipeline_layers import AWS, runtime_imports

LOGIC = [
    *sorted((ROOT / "functions" / "jobs" / "jobs_function" / "logic").glob("*.py")),
    ROOT / "functions" / "api" / "api_function" / "logic" / "jobs.py",
]
FORBIDDEN = (
    *AWS,
    "jobs_function.adapters",
    "jobs_function.dependencies",
    "api_function.dependencies",
    "sentiment_common.dal",
    "sentiment_common.inference",
    *(f"jobs_function.{handler}" for handler in ("start", "check", "classify", "merge", "status")),
)


@pytest.mark.parametrize("path", LOGIC, ids=[path.stem for path in LOGIC])
def test_the_logic_imports_ports_never_aws(path: Path) -> None:
    imported = set(runtime_imports(path))
    assert not {name for name in imported if name.startswith(FORBIDDEN)}, path
