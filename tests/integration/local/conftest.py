"""The local stack's pieces, run for real: handler code written to a temporary folder and run by a
:class:`~sentiment_local.runtime.functions.Runner` in worker processes, AWS played by moto in-process."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from sentiment_local.moto.gaps import install
from sentiment_local.runtime.functions import Runner
from sentiment_template.reader import FunctionSpec

ENDPOINT = "http://127.0.0.1:1"  # nothing listens there: the handlers under test never call AWS

# One handler module for every test. The action comes from the event, or from the ACTION variable
# for events a test does not write itself (SQS, S3, the Lambda API).
HANDLERS = """
import importlib
import json
import os
import sys
import time

try:
    import helper
except ImportError:
    helper = None

COUNT = 0


def handler(event, context):
    action = event.get("action") if isinstance(event, dict) else None
    return ACTIONS[action or os.environ["ACTION"]](event, context)


def echo(event, context):
    return {
        "event": event,
        "function_name": context.function_name,
        "helper": None if helper is None else helper.VALUE,
    }


def context_info(event, context):
    return {
        "function_name": context.function_name,
        "aws_request_id": context.aws_request_id,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }


def environment(event, context):
    return dict(os.environ)


def can_import(event, context):
    try:
        importlib.import_module(event["module"])
    except ImportError:
        return False
    return True


def python_path(event, context):
    return sys.path


def count(event, context):
    global COUNT
    COUNT += 1
    return {"count": COUNT, "pid": os.getpid()}


def fail(event, context):
    raise ValueError(event.get("message", "boom"))


def crash(event, context):
    os._exit(3)


def sleep(event, context):
    time.sleep(event["seconds"])
    return {"pid": os.getpid(), "request_id": context.aws_request_id}


def say(event, context):
    print(event["text"])
    print(event["text"] + " on stderr", file=sys.stderr)
    return {"request_id": context.aws_request_id}


def attempt(event, context):
    with open(event["path"], "a") as attempts:
        attempts.write("attempt\\n")
    with open(event["path"]) as attempts:
        made = len(attempts.readlines())
    if made < event.get("succeed_on", 1_000):
        raise RuntimeError(f"attempt {made} fails")
    with open(event["path"] + ".done", "w") as done:
        done.write(str(made))
    return {"attempts": made}


def _record(event):
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps(event) + "\\n")


def sqs_report(event, context):
    _record(event)
    return {
        "batchItemFailures": [
            {"itemIdentifier": record["messageId"]} for record in event["Records"] if "fail" in record["body"]
        ]
    }


def sqs_raise(event, context):
    _record(event)
    raise RuntimeError("the whole batch fails")


def sqs_garbage(event, context):
    _record(event)
    return "not a batch response"


def slow_marker(event, context):
    time.sleep(float(os.environ["SLEEP"]))
    scratch = os.environ["OUT"] + ".tmp"
    with open(scratch, "w") as out:
        json.dump(event, out)
    os.replace(scratch, os.environ["OUT"])
    return "marked"


ACTIONS = {
    name: value
    for name, value in dict(globals()).items()
    if callable(value) and not name.startswith("_") and name not in {"handler"}
}
"""

HELPER = 'VALUE = "from the layer"\n'


@dataclass(frozen=True)
class Code:
    """Two functions' code folders and one layer: ``first/handlers.py``, ``second/other_handlers.py``
    (the same source under another module name) and ``layer/helper.py``."""

    first: Path
    second: Path
    layer: Path


def write_code(root: Path) -> Code:
    code = Code(first=root / "first", second=root / "second", layer=root / "layer")
    for folder in (code.first, code.second, code.layer):
        folder.mkdir(parents=True)
    (code.first / "handlers.py").write_text(HANDLERS)
    (code.second / "other_handlers.py").write_text(HANDLERS)
    (code.layer / "helper.py").write_text(HELPER)
    return code


def function_spec(
    logical_id: str,
    code: Path,
    handler: str = "handlers.handler",
    *,
    layers: Sequence[Path] = (),
    environment: Mapping[str, str] | None = None,
    timeout: int = 30,
    memory: int = 256,
    reserved_concurrency: int | None = None,
    name: str | None = None,
) -> FunctionSpec:
    return FunctionSpec(
        logical_id=logical_id,
        name=name or f"test-{logical_id}",
        code=code,
        handler=handler,
        runtime="python3.11",
        timeout=timeout,
        memory=memory,
        layers=tuple(layers),
        environment=dict(environment or {}),
        reserved_concurrency=reserved_concurrency,
    )


@pytest.fixture
def code(tmp_path: Path) -> Code:
    return write_code(tmp_path / "code")


@pytest.fixture
def logs_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"


RunnerFactory = Callable[..., Runner]


@pytest.fixture
def make_runner(logs_dir: Path) -> Iterator[RunnerFactory]:
    """Runners that are closed after the test, whatever it did."""
    runners: list[Runner] = []

    def make(*specs: FunctionSpec, concurrency: int = 2, overrides: Mapping[str, str] | None = None) -> Runner:
        runner = Runner(list(specs), endpoint=ENDPOINT, logs_dir=logs_dir, concurrency=concurrency, overrides=overrides)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.close()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and the stack's region for boto3 under ``moto.mock_aws``; no real endpoint."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)


def wait_for(condition: Callable[[], Any], seconds: float = 15, message: str = "condition") -> Any:
    """Poll until ``condition()`` is truthy; its value, or a failure after a generous deadline."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{message} not met within {seconds} s")
        time.sleep(0.05)


def read_json_lines(path: Path) -> list[Any]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@contextmanager
def moto_with_gaps(tmp_path: Path) -> Iterator[None]:
    """moto in-process as the stack runs it: executions on, the gaps installed (no functions, no model).

    moto keeps ``execute_state_machine`` in a process-wide setting, so a test that relies on either
    value must set it; this one sets what ``moto/server.py`` sets.
    """
    runner = Runner([], endpoint="http://127.0.0.1:1", logs_dir=tmp_path / "logs")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        undo = install(runner, lambda: "http://127.0.0.1:1")
        try:
            yield
        finally:
            undo()
            runner.close()
