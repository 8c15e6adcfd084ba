"""Schemathesis against ``make up``: every operation of the stack's own ``/openapi.json``, every check.

One ``st run`` (the CLI, in its own process) generates valid and invalid requests for each operation
through all its phases (examples, coverage, fuzzing, and stateful sequences following the links it
infers), and writes a JSON report. The tests below read that report, one kind of failure each, so a
red test says which promise broke: a server error, a response the document does not describe, input
handled against the document, or a resource lost between calls. The full output, with a curl line
for each failure, is kept in ``build/test-artifacts/fuzzing/``.

Left out, for reasons of the platform rather than of this API:
- ``unsupported_method`` wants 405 for a method a path does not declare; API Gateway's HTTP API
  answers 404 ``{"message": "Not Found"}`` there, and the local gateway does as it does.
- ``POST /training`` is not generated: each accepted call trains for ~40 s of CPU. It is called by
  hand instead, once with the key (202), once more while that run is active (409) and once without
  the key (401), each answer validated by the same checks.
- ``POST /reviews`` is not generated: every request carries the admin key (the command line's
  ``--header``), which the reviewer route also takes (as reviewer ``admin``), so the check that a call
  without ``Authorization`` is refused cannot remove it. test_local_stack's reviewers test, the
  Postman collection and tests/integration/api cover the route with and without a key.
The document declares the admin key as a bearer security scheme on the admin routes, so
``ignored_auth`` checks that they refuse calls without it or with a made-up one (the gateway's
authorizer answers, as API Gateway would); test_retraining_guard covers the refusals by hand too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from tests.conftest import ROOT
from tests.system.conftest import LocalStack, module_stack

SEED = 20261122  # fixed, so a failure comes back on the next run; change it to explore further
MAX_EXAMPLES = 40  # per operation and phase: ~940 requests, under a minute here
ARTIFACTS = ROOT / "build" / "test-artifacts" / "fuzzing"
# POST /training and POST /reviews: see the module's docstring
NOT_GENERATED = ("start_training_training_post", "post_review_reviews_post")

# Schemathesis's failure codes (`st explain <code>`), by the promise they break.
SERVER_ERRORS = {"ST101", "ST102"}
RESPONSE_CONFORMANCE = {f"ST1{n:02d}" for n in range(3, 12)}  # status, content type, headers, body
INPUT_HANDLING = {"ST201", "ST202", "ST203", "ST204", "ST205"}
STATEFUL = {"ST301", "ST302", "ST401", "ST402"}

# An opaque next_token is a valid string to the document, but only a token the API issued is one
# to the API: a made-up one is refused with 400. On the paginated routes that is the right answer
# to a "schema-valid" request (whether 400 is documented there is still checked, by ST103).
CONFIG = """
[[operations]]
include-name = ["GET /comments", "GET /training", "GET /jobs", "GET /datasets"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
"""


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """The CLI loads this file as its hooks module. An ``Idempotency-Key`` is "any unique string", but
    the fuzzer draws from few values and would replay a key with another body, which the API rightly
    refuses with 422 (test_local_stack covers that). A key the document accepts becomes a fresh one;
    a key that is itself the invalid part of a negative case is sent as drawn.

    The command line's ``--header`` gives every request the admin key, so a case drawn without the
    Authorization header (the coverage phase's, on the admin routes that declare headers of their own)
    would go out with it: it is sent without, as drawn, and must get 401."""
    data = getattr(getattr(getattr(case, "meta", None), "phase", None), "data", None)
    if (
        str(getattr(data, "parameter", "")).lower() == "authorization"
        and "missing" in str(getattr(data, "scenario", "")).lower()
    ):
        for holder in (kwargs.get("headers") or {}, case.headers or {}):
            for name in [name for name in holder if name.lower() == "authorization"]:
                del holder[name]
    headers = case.headers or {}
    for name in list(headers):
        key = headers[name]
        if name.lower() == "idempotency-key" and isinstance(key, str) and 1 <= len(key) <= 128:
            headers[name] = uuid.uuid4().hex


@dataclass
class FuzzRun:
    report: dict[str, Any] = field(repr=False)
    output: str = field(repr=False)
    output_path: Path

    def failures(self, codes: set[str]) -> list[dict[str, Any]]:
        return [failure for failure in self.report["failures"] if failure["code"] in codes]

    def explain(self, codes: set[str]) -> str:
        """The failures of these kinds, with the examples and curl lines from the CLI's output."""
        summary = [f"{f['code']} {f['title']}: {', '.join(f['operations'])}" for f in self.failures(codes)]
        blocks = re.split(r"\n(?=[_=]{3,} .+ [_=]{3,}\n)", self.output)  # one block per operation
        examples = [block for block in blocks if any(f"- {code} " in block for code in codes)]
        details = "\n".join(examples)[:8000]
        return "\n".join([*summary, "", details, f"(full output: {self.output_path})"])


local_stack = module_stack("fuzzing", RETRAIN_THRESHOLD="1000000")


@pytest.fixture(scope="module")
def admin(local_stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {(local_stack.data / 'admin-api-key').read_text().strip()}"}


@pytest.fixture(scope="module")
def fuzzing(local_stack: LocalStack, admin: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> FuzzRun:
    work = tmp_path_factory.mktemp("schemathesis")
    config = work / "schemathesis.toml"
    config.write_text(f"hooks = {json.dumps(__name__)}\n{CONFIG}")  # this module: its before_call hook
    report = work / "report.json"
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{local_stack.api}/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        "unsupported_method",
        *(option for operation in NOT_GENERATED for option in ("--exclude-operation-id", operation)),
        "--header",
        f"Authorization:{admin['Authorization']}",  # the admin routes are fuzzed past their key check
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--continue-on-failure",
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    # The hooks module is this one: importing it needs the project's paths.
    parts = ("model_training", "layers/shared", "local_stack", "deploy", "stack_template")
    pythonpath = [str(ROOT), *(str(ROOT / part) for part in parts)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(pythonpath), "SCHEMATHESIS_HOOKS": ""}
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=900, check=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    output_path = ARTIFACTS / "schemathesis.txt"
    output_path.write_text(result.stdout + result.stderr)
    assert report.exists(), f"st run wrote no report (exit {result.returncode}):\n{result.stdout[-3000:]}"
    (ARTIFACTS / "report.json").write_text(report.read_text())
    return FuzzRun(json.loads(report.read_text()), result.stdout, output_path)


def test_the_fuzzer_reaches_every_operation(fuzzing: FuzzRun) -> None:
    report = fuzzing.report
    operations = report["operations"]
    assert report["complete"], report["stop_reason"]
    assert operations["total"] == 29, operations  # the routes of docs/api.md's tables
    assert operations["selected"] == operations["tested"] == operations["total"] - len(NOT_GENERATED), operations
    assert operations["errored"] == 0 and report["errors"] == [], report["errors"]
    assert report["test_cases"]["generated"] >= 11 * MAX_EXAMPLES, report["test_cases"]
    assert report["phases"]["stateful"]["status"] != "skip", report["phases"]


def test_no_request_gets_a_server_error(fuzzing: FuzzRun) -> None:
    assert not fuzzing.failures(SERVER_ERRORS), fuzzing.explain(SERVER_ERRORS)


def test_every_response_is_documented_and_matches_its_schema(fuzzing: FuzzRun) -> None:
    assert not fuzzing.failures(RESPONSE_CONFORMANCE), fuzzing.explain(RESPONSE_CONFORMANCE)


def test_invalid_input_is_refused_and_valid_input_accepted(fuzzing: FuzzRun) -> None:
    assert not fuzzing.failures(INPUT_HANDLING), fuzzing.explain(INPUT_HANDLING)


def test_what_one_call_creates_the_next_finds(fuzzing: FuzzRun) -> None:
    assert not fuzzing.failures(STATEFUL), fuzzing.explain(STATEFUL)


def test_starting_a_run_by_hand_answers_as_documented(
    fuzzing: FuzzRun, local_stack: LocalStack, admin: dict[str, str]
) -> None:
    # After the fuzzing: the run this starts trains while nothing else needs the CPU.
    del fuzzing
    schema = schemathesis.openapi.from_url(f"{local_stack.api}/openapi.json")
    start = schema["/training"]["POST"]

    anonymous = start.Case().call_and_validate()
    started = start.Case(headers=admin).call_and_validate()
    again = start.Case(headers=admin).call_and_validate()

    assert anonymous.status_code == 401
    assert started.status_code == 202, started.text
    assert again.status_code == 409, again.text
    run = schema["/training/{run_id}"]["GET"].Case(path_parameters={"run_id": started.json()["run_id"]})
    assert run.call_and_validate().json()["status"] in {"RUNNING", "SUCCEEDED"}
