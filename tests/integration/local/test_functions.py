"""Functions run in worker processes as Lambda runs them in execution environments: isolated
environment and code, warm state, errors, timeouts, logs, concurrency and asynchronous retries."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from sentiment_local.runtime import functions
from sentiment_local.runtime.functions import Invocation, Runner
from tests.conftest import ROOT
from tests.integration.local.conftest import ENDPOINT, Code, RunnerFactory, function_spec, wait_for

# What the Lambda runtime sets in every function's environment (besides the function's own variables).
LAMBDA_VARIABLES = {
    "PATH",
    "LANG",
    "TZ",
    "PYTHONPATH",
    "PYTHONUNBUFFERED",
    "LAMBDA_TASK_ROOT",
    "_HANDLER",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "LOCAL_FUNCTION_ARN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL",
    "POWERTOOLS_TRACE_DISABLED",
}
# Set by the worker per request, and by Python itself when it coerces a C locale (PEP 538).
PER_PROCESS_VARIABLES = {"_X_AMZN_TRACE_ID", "LC_CTYPE"}


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def ok(invocation: Invocation) -> Any:
    assert not invocation.failed, invocation.error
    return invocation.result()


# ---- results and context ----


def test_the_handler_result_comes_back_as_json(code: Code, make_runner: RunnerFactory) -> None:
    runner = make_runner(function_spec("First", code.first, layers=[code.layer]))

    invocation = runner.invoke("First", {"action": "echo", "numbers": [1, 2.5], "text": "héllo"})

    assert not invocation.failed
    assert invocation.error is None
    assert invocation.payload is not None
    assert invocation.result() == {
        "event": {"action": "echo", "numbers": [1, 2.5], "text": "héllo"},
        "function_name": "test-First",
        "helper": "from the layer",
    }


def test_a_function_is_reached_by_logical_id_and_by_physical_name(code: Code, make_runner: RunnerFactory) -> None:
    runner = make_runner(function_spec("First", code.first, name="stack-First"))

    by_id = ok(runner.invoke("First", {"action": "count"}))
    by_name = ok(runner.invoke("stack-First", {"action": "count"}))

    assert (by_id["count"], by_name["count"]) == (1, 2)  # the same function, the same warm worker
    with pytest.raises(KeyError, match="Nowhere"):
        runner.invoke("Nowhere", {})


def test_the_context_object(code: Code, make_runner: RunnerFactory) -> None:
    spec = function_spec("First", code.first, memory=384, timeout=20)
    runner = make_runner(spec)

    first = ok(runner.invoke("First", {"action": "context_info"}))
    second = ok(runner.invoke("First", {"action": "context_info"}))

    assert first["function_name"] == "test-First"
    assert first["memory_limit_in_mb"] == 384
    assert first["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:test-First"
    assert str(uuid.UUID(first["aws_request_id"])) == first["aws_request_id"]
    assert first["aws_request_id"] != second["aws_request_id"]
    # The deadline is the function's timeout from the start of the invocation.
    assert 10_000 < first["remaining_ms"] <= 20_000


# ---- isolation ----


def test_each_function_sees_only_its_own_environment(
    code: Code, make_runner: RunnerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_PROCESS_SECRET", "must not leak")
    first = function_spec(
        "First", code.first, layers=[code.layer], environment={"TABLE": "first-table", "ONLY_FIRST": "1"}, memory=512
    )
    second = function_spec("Second", code.second, "other_handlers.handler", environment={"TABLE": "second-table"})
    runner = make_runner(first, second)

    env = ok(runner.invoke("First", {"action": "environment"}))
    other = ok(runner.invoke("Second", {"action": "environment"}))

    assert set(env) - PER_PROCESS_VARIABLES == LAMBDA_VARIABLES | {"TABLE", "ONLY_FIRST"}
    assert env["TABLE"] == "first-table"
    assert env["ONLY_FIRST"] == "1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "test-First"
    assert env["_HANDLER"] == "handlers.handler"
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["LAMBDA_TASK_ROOT"] == str(code.first)
    assert env["PYTHONPATH"] == os.pathsep.join([str(code.first), str(code.layer)])
    assert "TEST_PROCESS_SECRET" not in env

    assert set(other) - PER_PROCESS_VARIABLES == LAMBDA_VARIABLES | {"TABLE"}
    assert other["TABLE"] == "second-table"
    assert other["AWS_LAMBDA_FUNCTION_NAME"] == "test-Second"
    assert other["_HANDLER"] == "other_handlers.handler"
    assert other["PYTHONPATH"] == str(code.second)
    assert "ONLY_FIRST" not in other
    assert "TEST_PROCESS_SECRET" not in other


def test_runner_overrides_reach_every_function(code: Code, make_runner: RunnerFactory) -> None:
    first = function_spec("First", code.first, environment={"MODEL_URL": ""})
    second = function_spec("Second", code.second, "other_handlers.handler")
    runner = make_runner(first, second, overrides={"MODEL_URL": "http://model:8080"})

    assert ok(runner.invoke("First", {"action": "environment"}))["MODEL_URL"] == "http://model:8080"
    assert ok(runner.invoke("Second", {"action": "environment"}))["MODEL_URL"] == "http://model:8080"


def test_a_function_imports_only_its_code_and_layers(code: Code, make_runner: RunnerFactory) -> None:
    first = function_spec("First", code.first, layers=[code.layer])
    second = function_spec("Second", code.second, "other_handlers.handler")
    runner = make_runner(first, second)

    def can_import(function: str, module: str) -> bool:
        return bool(ok(runner.invoke(function, {"action": "can_import", "module": module})))

    assert can_import("First", "helper")  # its layer
    assert can_import("First", "json")  # the runtime's standard library
    assert not can_import("First", "other_handlers")  # another function's code
    assert not can_import("Second", "handlers")
    assert not can_import("Second", "helper")  # another function's layer
    for function in ("First", "Second"):
        assert not can_import(function, "sentiment_local")  # the local stack itself
        assert not can_import(function, "worker")  # the worker script's folder
    assert ok(runner.invoke("Second", {"action": "echo"}))["helper"] is None

    path = ok(runner.invoke("First", {"action": "python_path"}))
    local_stack = ROOT / "local_stack"
    assert not [entry for entry in path if entry and Path(entry).resolve().is_relative_to(local_stack)]


def test_module_state_persists_in_a_warm_worker_but_not_across_functions(
    code: Code, make_runner: RunnerFactory
) -> None:
    # The same code folder and module for both: only the execution environments differ.
    first = function_spec("First", code.first)
    second = function_spec("Second", code.first)
    runner = make_runner(first, second)

    one = ok(runner.invoke("First", {"action": "count"}))
    two = ok(runner.invoke("First", {"action": "count"}))
    three = ok(runner.invoke("First", {"action": "count"}))
    other = ok(runner.invoke("Second", {"action": "count"}))

    assert [one["count"], two["count"], three["count"]] == [1, 2, 3]
    assert one["pid"] == two["pid"] == three["pid"]
    assert other["count"] == 1
    assert other["pid"] != one["pid"]
    assert runner.pool("First").size == 1


# ---- failures ----


def test_an_exception_is_reported_and_the_worker_keeps_serving(code: Code, make_runner: RunnerFactory) -> None:
    runner = make_runner(function_spec("First", code.first))
    before = ok(runner.invoke("First", {"action": "count"}))

    failed = runner.invoke("First", {"action": "fail", "message": "the handler broke"})

    assert failed.failed
    assert failed.payload is None
    assert failed.error is not None
    assert failed.error["errorType"] == "ValueError"
    assert failed.error["errorMessage"] == "the handler broke"
    assert any("raise ValueError" in frame for frame in failed.error["stackTrace"])
    assert failed.result() == failed.error
    assert any("ValueError: the handler broke" in line for line in failed.logs)

    after = ok(runner.invoke("First", {"action": "count"}))
    assert after == {"count": before["count"] + 1, "pid": before["pid"]}  # the same warm environment


def test_a_timeout_kills_the_worker_and_the_next_call_gets_a_fresh_one(
    code: Code, make_runner: RunnerFactory, logs_dir: Path
) -> None:
    runner = make_runner(function_spec("First", code.first, timeout=1))
    warm = ok(runner.invoke("First", {"action": "count"}))
    assert process_exists(warm["pid"])

    timed_out = runner.invoke("First", {"action": "sleep", "seconds": 30})

    assert timed_out.failed
    assert timed_out.error is not None
    assert timed_out.error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in timed_out.error["errorMessage"]
    assert timed_out.logs[0].startswith("START RequestId: ")
    assert timed_out.logs[-1] == timed_out.error["errorMessage"]
    assert not process_exists(warm["pid"])
    assert runner.pool("First").size == 0

    fresh = ok(runner.invoke("First", {"action": "count"}))
    assert fresh["count"] == 1  # a new environment: module state starts over
    assert fresh["pid"] != warm["pid"]
    assert runner.pool("First").size == 1
    assert "Task timed out after 1.00 seconds" in (logs_dir / "First.log").read_text()


def test_a_crashed_worker_is_reported_and_replaced(code: Code, make_runner: RunnerFactory) -> None:
    runner = make_runner(function_spec("First", code.first))
    warm = ok(runner.invoke("First", {"action": "count"}))

    crashed = runner.invoke("First", {"action": "crash"})

    assert crashed.error is not None
    assert crashed.error["errorType"] == "Runtime.ExitError"
    assert not process_exists(warm["pid"])
    assert runner.pool("First").size == 0
    fresh = ok(runner.invoke("First", {"action": "count"}))
    assert fresh["count"] == 1
    assert fresh["pid"] != warm["pid"]


def test_an_import_error_is_reported_as_such(code: Code, make_runner: RunnerFactory, logs_dir: Path) -> None:
    (code.first / "broken.py").write_text("import module_that_does_not_exist\n")
    missing_module = function_spec("Broken", code.first, "broken.handler")
    missing_handler = function_spec("NoHandler", code.first, "handlers.no_such_handler")
    runner = make_runner(missing_module, missing_handler)

    broken = runner.invoke("Broken", {})
    no_handler = runner.invoke("NoHandler", {})

    assert broken.failed
    assert broken.error is not None
    assert broken.error["errorType"] == "Runtime.ImportModuleError"
    assert "module_that_does_not_exist" in broken.error["errorMessage"]
    assert no_handler.error is not None
    assert no_handler.error["errorType"] == "Runtime.ImportModuleError"
    assert "no_such_handler" in no_handler.error["errorMessage"]
    # The failed environment is not kept; the next call tries again, and fails again.
    assert runner.pool("Broken").size == 0
    again = runner.invoke("Broken", {})
    assert again.error is not None
    assert again.error["errorType"] == "Runtime.ImportModuleError"
    assert "ModuleNotFoundError" in wait_for((logs_dir / "Broken.log").read_text, message="init log")


def test_an_initialisation_past_the_limit_is_reported(
    code: Code, make_runner: RunnerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(functions, "INIT_TIMEOUT_S", 1)
    (code.first / "slow_start.py").write_text(
        "import time\n\ntime.sleep(30)\n\n\ndef handler(event, context):\n    return 1\n"
    )
    runner = make_runner(function_spec("Slow", code.first, "slow_start.handler"))

    slow = runner.invoke("Slow", {})

    assert slow.error is not None
    assert slow.error["errorType"] == "Runtime.InitTimeout"
    assert runner.pool("Slow").size == 0


# ---- logs ----


def test_output_lands_in_the_function_log_with_lambda_lines(
    code: Code, make_runner: RunnerFactory, logs_dir: Path
) -> None:
    runner = make_runner(function_spec("First", code.first, memory=256))

    invocation = runner.invoke("First", {"action": "say", "text": "hello from the handler"})
    request_id = ok(invocation)["request_id"]

    lines = (logs_dir / "First.log").read_text().splitlines()
    start = lines.index(f"START RequestId: {request_id} Version: $LATEST")
    printed = lines.index("hello from the handler")
    on_stderr = lines.index("hello from the handler on stderr")
    end = lines.index(f"END RequestId: {request_id}")
    (report,) = [line for line in lines if line.startswith(f"REPORT RequestId: {request_id}\t")]
    assert start < printed < on_stderr < end < lines.index(report)
    assert "Duration: " in report
    assert "Memory Size: 256 MB" in report
    assert "Max Memory Used: " in report

    assert invocation.logs[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert "hello from the handler" in invocation.logs
    assert "hello from the handler on stderr" in invocation.logs
    assert invocation.logs[-1] == report


def test_each_invocation_gets_its_own_log_lines(code: Code, make_runner: RunnerFactory, logs_dir: Path) -> None:
    first = function_spec("First", code.first)
    second = function_spec("Second", code.first)
    runner = make_runner(first, second)

    one = runner.invoke("First", {"action": "say", "text": "first call"})
    two = runner.invoke("First", {"action": "say", "text": "second call"})
    runner.invoke("Second", {"action": "say", "text": "the other function"})

    assert "first call" in one.logs
    assert "second call" not in one.logs
    assert "second call" in two.logs
    assert "first call" not in two.logs
    first_log = (logs_dir / "First.log").read_text()
    assert "first call" in first_log
    assert "second call" in first_log
    assert "the other function" not in first_log
    assert "the other function" in (logs_dir / "Second.log").read_text()


# ---- concurrency and shutdown ----


def invoke_together(runner: Runner, function: str, events: list[dict[str, Any]]) -> list[Invocation]:
    results: list[Invocation | None] = [None] * len(events)
    barrier = threading.Barrier(len(events))

    def call(index: int) -> None:
        barrier.wait()
        results[index] = runner.invoke(function, events[index])

    threads = [threading.Thread(target=call, args=(index,)) for index in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def test_simultaneous_invocations_run_in_separate_workers_up_to_the_limit(
    code: Code, make_runner: RunnerFactory
) -> None:
    runner = make_runner(function_spec("First", code.first), concurrency=2)

    two = invoke_together(runner, "First", [{"action": "sleep", "seconds": 1}] * 2)
    assert len({ok(invocation)["pid"] for invocation in two}) == 2
    assert runner.pool("First").size == 2

    # A third caller waits for a free worker instead of starting a third one.
    three = invoke_together(runner, "First", [{"action": "sleep", "seconds": 0.5}] * 3)
    pids = [ok(invocation)["pid"] for invocation in three]
    assert set(pids) == {ok(invocation)["pid"] for invocation in two}
    assert runner.pool("First").size == 2


def test_reserved_concurrency_caps_the_pool(code: Code, make_runner: RunnerFactory) -> None:
    runner = make_runner(function_spec("First", code.first, reserved_concurrency=1), concurrency=4)

    both = invoke_together(runner, "First", [{"action": "sleep", "seconds": 0.5}] * 2)

    assert len({ok(invocation)["pid"] for invocation in both}) == 1
    assert runner.pool("First").size == 1


def test_close_leaves_no_worker_alive(code: Code, make_runner: RunnerFactory) -> None:
    first = function_spec("First", code.first)
    second = function_spec("Second", code.second, "other_handlers.handler")
    runner = make_runner(first, second, concurrency=2)
    busy = invoke_together(runner, "First", [{"action": "sleep", "seconds": 0.5}] * 2)
    pids = {ok(invocation)["pid"] for invocation in busy} | {ok(runner.invoke("Second", {"action": "count"}))["pid"]}
    assert len(pids) == 3
    assert all(process_exists(pid) for pid in pids)

    runner.close()

    assert [pid for pid in pids if process_exists(pid)] == []
    assert runner.pool("First").size == 0
    with pytest.raises(RuntimeError, match="shut down"):
        runner.invoke("First", {"action": "count"})


# ---- asynchronous invocations ----


def test_an_async_invocation_is_retried_twice_then_given_up(
    code: Code, make_runner: RunnerFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sentiment_local.runtime.functions")
    runner = make_runner(function_spec("First", code.first))
    attempts = tmp_path / "attempts.txt"

    assert runner.invoke_async("First", {"action": "attempt", "path": str(attempts)}) is None

    wait_for(
        lambda: [record for record in caplog.records if "failed an asynchronous event" in record.getMessage()],
        message="the async invocation to give up",
    )
    assert attempts.read_text().splitlines() == ["attempt"] * 3
    (record,) = [record for record in caplog.records if "failed an asynchronous event" in record.getMessage()]
    assert "First failed an asynchronous event 3 times" in record.getMessage()
    assert "attempt 3 fails" in record.getMessage()


def test_an_async_invocation_stops_retrying_once_it_succeeds(
    code: Code, make_runner: RunnerFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sentiment_local.runtime.functions")
    runner = make_runner(function_spec("First", code.first))
    attempts = tmp_path / "attempts.txt"

    runner.invoke_async("First", {"action": "attempt", "path": str(attempts), "succeed_on": 2})

    done = Path(f"{attempts}.done")
    assert wait_for(lambda: done.exists() and done.read_text(), message="the retry to succeed") == "2"
    assert attempts.read_text().splitlines() == ["attempt"] * 2
    assert not [record for record in caplog.records if "failed an asynchronous event" in record.getMessage()]


def test_an_async_invocation_of_an_unknown_function_fails_at_once(code: Code, make_runner: RunnerFactory) -> None:
    runner = make_runner(function_spec("First", code.first))
    with pytest.raises(KeyError, match="Nowhere"):
        runner.invoke_async("Nowhere", {})
