"""One Lambda execution environment: import the handler once, then run the invocations it is sent.

The parent starts this module with the function's own environment and ``PYTHONPATH`` (its code and
its layers, nothing else) and writes one JSON request per line on stdin. Answers go back on the
original stdout; everything the handler prints, and the ``START``/``END``/``REPORT`` lines Lambda
writes, goes to stderr, which the parent files as the function's log.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, BinaryIO


@dataclass
class Context:
    """The attributes and method of Lambda's context object that handlers use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline_ms: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    tenant_id: Any = field(default=None)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.deadline_ms - time.time() * 1000))


def _error(error: BaseException) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def _answer(channel: BinaryIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message).encode() + b"\n")
    channel.flush()


def _log(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    memory = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    arn = os.environ["LOCAL_FUNCTION_ARN"]
    module_name, _, attribute = os.environ["_HANDLER"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except Exception as error:
        traceback.print_exc()
        _answer(answers, {"ready": False, "error": {**_error(error), "errorType": "Runtime.ImportModuleError"}})
        return
    _answer(answers, {"ready": True})
    for line in requests:
        request = json.loads(line)
        request_id = request["request_id"]
        context = Context(name, memory, arn, request_id, request["deadline_ms"])
        os.environ["_X_AMZN_TRACE_ID"] = request.get("trace_id", "")
        _log(f"START RequestId: {request_id} Version: $LATEST")
        started = time.perf_counter()
        try:
            result = handler(request["event"], context)
            payload = json.dumps(result)
        except Exception as error:
            message = {"ok": False, "error": _error(error)}
            _log(f"[ERROR] {type(error).__name__}: {error}")
            traceback.print_exc()
        else:
            message = {"ok": True, "payload": payload}
        sys.stdout.flush()
        elapsed = (time.perf_counter() - started) * 1000
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        _log(f"END RequestId: {request_id}")
        _log(
            f"REPORT RequestId: {request_id}\tDuration: {elapsed:.2f} ms\t"
            f"Memory Size: {memory} MB\tMax Memory Used: {peak_mb} MB"
        )
        _answer(answers, message)


def main() -> None:
    # Started as a script: its own folder heads sys.path. A function sees only its code and layers.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)
    # Ctrl-C reaches the whole process group; the parent decides when this environment ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the handler's prints become log lines
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
