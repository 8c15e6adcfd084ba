"""Run the template's functions as Lambda runs them, without containers.

Each function gets its own worker processes (a warm execution environment each, up to a concurrency
limit), started with only the environment the template gives it plus what the Lambda runtime sets,
and only its code and layers on ``PYTHONPATH``: functions share no state. A timeout kills the
worker, as Lambda ends an environment; a crashed worker is replaced on the next call. Logs go to
``<logs>/<LogicalId>.log`` with Lambda's ``START``/``END``/``REPORT`` lines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sentiment_template.policies import credentials_for
from sentiment_template.reader import REGION, FunctionSpec

log = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
INIT_TIMEOUT_S = 10  # Lambda's init phase limit
ASYNC_RETRIES = 2  # Lambda retries an asynchronous invocation twice
ASYNC_RETRY_DELAYS_S = (1.0, 2.0)  # Lambda waits about 1 and 2 minutes; locally, seconds


@dataclass
class Invocation:
    """What an invocation returned: the handler's JSON result, or the error Lambda would report."""

    payload: str | None = None
    error: dict[str, Any] | None = None
    logs: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.error is not None

    def result(self) -> Any:
        return json.loads(self.payload) if self.payload is not None else self.error


def _runtime_environment(spec: FunctionSpec, endpoint: str) -> dict[str, str]:
    """What the Lambda runtime sets, with the function's own variables from the template on top."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join(str(path) for path in (spec.code, *spec.layers)),
        "PYTHONUNBUFFERED": "1",
        "LAMBDA_TASK_ROOT": str(spec.code),
        "_HANDLER": spec.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "LOCAL_FUNCTION_ARN": spec.arn,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        # The function's own role's credentials, as Lambda gives them; the local stack's IAM check
        # knows the role by its access key.
        **(
            credentials_for(spec.role_arn)
            if spec.role_arn
            else {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
        ),
        # No X-Ray daemon runs locally (sam local turns tracing off the same way).
        "POWERTOOLS_TRACE_DISABLED": "true",
        **spec.environment,
        # After the template's: it declares AWS_ENDPOINT_URL empty (AWS's own endpoints).
        "AWS_ENDPOINT_URL": endpoint,
    }


class LogFile:
    """A function's log, shared by its workers."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        with self._lock:
            if self._file.closed:  # a worker's last lines, read after the runner closed: nobody reads them
                return
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


class Worker:
    """One execution environment: a process that imported the handler and takes one event at a time."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str], logs: LogFile) -> None:
        self.spec = spec
        self._logs = logs
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._current: list[str] | None = None
        self._report = threading.Event()
        self._lock = threading.Lock()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, str(WORKER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(environment),
            cwd=spec.code,
        )
        stdin, stdout, stderr = self.process.stdin, self.process.stdout, self.process.stderr
        if stdin is None or stdout is None or stderr is None:
            raise RuntimeError("the worker was started without pipes")
        self._stdin = stdin
        threading.Thread(target=self._read_answers, args=(stdout,), daemon=True).start()
        threading.Thread(target=self._read_logs, args=(stderr,), daemon=True).start()
        self.init_error: dict[str, Any] | None = None
        self._init()

    def _init(self) -> None:
        try:
            ready = self._answers.get(timeout=INIT_TIMEOUT_S)
        except queue.Empty:
            self.kill()
            self.init_error = {
                "errorType": "Runtime.InitTimeout",
                "errorMessage": f"{self.spec.logical_id} did not initialise in {INIT_TIMEOUT_S} s",
            }
            return
        if ready is None or not ready.get("ready"):
            self.kill()
            self.init_error = (ready or {}).get("error") or {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"{self.spec.logical_id} exited during init",
            }

    def _read_answers(self, stream: IO[bytes]) -> None:
        for line in stream:
            self._answers.put(json.loads(line))
        self._answers.put(None)

    def _read_logs(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", errors="replace")
            self._logs.write(line)
            with self._lock:
                if self._current is not None:
                    self._current.append(line.rstrip("\n"))
            if line.startswith("REPORT RequestId:"):
                self._report.set()
        self._report.set()

    @property
    def alive(self) -> bool:
        return self.init_error is None and self.process.poll() is None

    def invoke(self, event: Any, request_id: str, timeout: float) -> Invocation:
        lines: list[str] = []
        with self._lock:
            self._current = lines
        self._report.clear()
        deadline_ms = time.time() * 1000 + timeout * 1000
        request = {"event": event, "request_id": request_id, "deadline_ms": deadline_ms, "trace_id": ""}
        try:
            self._stdin.write(json.dumps(request).encode() + b"\n")
            self._stdin.flush()
            answer = self._answers.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            message = f"{request_id} Task timed out after {timeout:.2f} seconds"
            self._logs.write(f"{message}\n")
            return Invocation(error={"errorType": "Sandbox.Timedout", "errorMessage": message}, logs=[*lines, message])
        except (BrokenPipeError, OSError):
            answer = None
        if answer is None:
            self.kill()
            return Invocation(
                error={"errorType": "Runtime.ExitError", "errorMessage": f"{self.spec.logical_id} exited"}, logs=lines
            )
        self._report.wait(timeout=2)  # the REPORT line trails the answer by a moment
        with self._lock:
            self._current = None
        if answer.get("ok"):
            return Invocation(payload=answer["payload"], logs=lines)
        return Invocation(error=answer["error"], logs=lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def stop(self) -> None:
        """End the environment: close its input so it leaves its loop, then make sure."""
        with contextlib.suppress(OSError):
            self._stdin.close()
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.process.terminate()
        self.kill()


class FunctionPool:
    """A function's warm environments; a new one starts when all are busy, up to ``limit``."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str], logs: LogFile, limit: int) -> None:
        self.spec = spec
        self._environment = dict(environment)
        self._logs = logs
        self._limit = max(1, min(limit, spec.reserved_concurrency or limit))
        self._idle: list[Worker] = []
        self._all: set[Worker] = set()
        self._starting = 0
        self._closed = False
        self._condition = threading.Condition()

    @contextlib.contextmanager
    def _worker(self) -> Iterator[Worker]:
        with self._condition:
            while not self._idle and len(self._all) + self._starting >= self._limit:
                if self._closed:
                    raise RuntimeError(f"{self.spec.logical_id} is shut down")
                self._condition.wait()
            if self._closed:
                raise RuntimeError(f"{self.spec.logical_id} is shut down")
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                self._starting += 1
        if worker is None:
            try:
                worker = Worker(self.spec, self._environment, self._logs)
            finally:
                with self._condition:
                    self._starting -= 1
            with self._condition:
                self._all.add(worker)
        try:
            yield worker
        finally:
            with self._condition:
                if worker.alive and not self._closed:
                    self._idle.append(worker)
                else:
                    self._all.discard(worker)
                    worker.kill()
                self._condition.notify()

    def invoke(self, event: Any, request_id: str | None = None) -> Invocation:
        request_id = request_id or str(uuid.uuid4())
        with self._worker() as worker:
            if worker.init_error is not None:
                return Invocation(error=worker.init_error)
            return worker.invoke(event, request_id, float(self.spec.timeout))

    @property
    def size(self) -> int:
        with self._condition:
            return len(self._all)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._condition.notify_all()
        for worker in workers:
            worker.stop()


class Runner:
    """Every function of the template, by logical id or by physical name."""

    def __init__(
        self,
        specs: list[FunctionSpec],
        endpoint: str,
        logs_dir: Path,
        concurrency: int = 4,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self._logs = {spec.logical_id: LogFile(logs_dir / f"{spec.logical_id}.log") for spec in specs}
        self._pools = {
            spec.logical_id: FunctionPool(
                spec,
                {**_runtime_environment(spec, endpoint), **(overrides or {})},
                self._logs[spec.logical_id],
                concurrency,
            )
            for spec in specs
        }
        self._by_name = {spec.name: spec.logical_id for spec in specs}
        self._endpoint = endpoint
        self._async = ThreadPoolExecutor(max_workers=4, thread_name_prefix="async-invoke")

    def pool(self, function: str) -> FunctionPool:
        logical_id = self._by_name.get(function, function)
        if logical_id not in self._pools:
            raise KeyError(f"no function {function!r} in the template (known: {', '.join(sorted(self._pools))})")
        return self._pools[logical_id]

    def invoke(self, function: str, event: Any) -> Invocation:
        return self.pool(function).invoke(event)

    def invoke_async(self, function: str, event: Any) -> None:
        """An ``Event`` invocation: answered at once, retried twice on error, as Lambda does; an event
        that fails every time goes to the function's dead-letter queue, if it has one."""
        pool = self.pool(function)

        def run() -> None:
            for attempt in range(ASYNC_RETRIES + 1):
                outcome = pool.invoke(event)
                if not outcome.failed:
                    return
                if attempt < ASYNC_RETRIES:
                    time.sleep(ASYNC_RETRY_DELAYS_S[attempt])
            log.warning(
                "%s failed an asynchronous event %d times: %s", pool.spec.logical_id, attempt + 1, outcome.error
            )
            if pool.spec.dead_letter_queue:
                self._dead_letter(pool.spec, event, outcome.error or {})

        self._async.submit(run)

    def _dead_letter(self, spec: FunctionSpec, event: Any, error: dict[str, Any]) -> None:
        """What Lambda sends the dead-letter queue, with the function's own role: the event, and the error
        as message attributes (Lambda developer guide, "Dead-letter queues")."""
        import boto3  # noqa: PLC0415 - only functions with a dead-letter queue need it

        account, name = spec.dead_letter_queue.split(":")[4:6]  # type: ignore[union-attr]
        keys = credentials_for(spec.role_arn) if spec.role_arn else {"AWS_ACCESS_KEY_ID": "local"}
        sqs = boto3.client(
            "sqs",
            endpoint_url=self._endpoint,
            region_name=REGION,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key="local",  # noqa: S106 - moto checks no signature
            aws_session_token=keys.get("AWS_SESSION_TOKEN"),
        )
        attributes = {
            "RequestID": str(uuid.uuid4()),
            "ErrorCode": "200",
            "ErrorMessage": str(error.get("errorMessage", error.get("errorType", "")))[:256] or "failed",
        }
        try:
            sqs.send_message(
                QueueUrl=f"{self._endpoint.rstrip('/')}/{account}/{name}",
                MessageBody=json.dumps(event),
                MessageAttributes={
                    key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()
                },
            )
        except Exception:  # the event is lost, as on AWS when the dead-letter queue refuses it
            log.exception("%s: the failed event could not be sent to its dead-letter queue", spec.logical_id)

    def close(self) -> None:
        self._async.shutdown(wait=False, cancel_futures=True)
        for pool in self._pools.values():
            pool.close()
        for logs in self._logs.values():
            logs.close()
