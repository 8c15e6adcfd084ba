"""Servers as subprocesses, and wrk against them: start, wait for /ping, load, parse, stop."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LUA_SCRIPT = Path(__file__).resolve().parent / "wrk_post.lua"
WRK_INSTALL_HINT = "wrk is not installed: install it with `apt-get install -y wrk` (Debian/Ubuntu package wrk)"
START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 10.0
LOCAL_STACK_START_SECONDS = 420  # a fresh clone trains its first model on start

_TIME_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_PERCENTILE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_REQUESTS_PER_SECOND = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class LoadTestError(RuntimeError):
    """A server would not start or wrk's output could not be read."""


@dataclass(frozen=True)
class ServerCommand:
    """How to start one server: its name, argv, extra environment and log file."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_file: Path


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def require_wrk() -> str:
    """The path of the wrk binary, or :class:`LoadTestError` saying how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise LoadTestError(WRK_INSTALL_HINT)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pings(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill if it has not exited within a few seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


@contextmanager
def running_server(
    command: ServerCommand, port: int, cwd: Path, ready: dict[str, float] | None = None
) -> Iterator[str]:
    """Start the server, yield its base URL once ``GET /ping`` answers 200, always stop it. ``ready``
    gets ``seconds``: from starting the process to the first 200 from /ping."""
    base_url = f"http://127.0.0.1:{port}"
    command.log_file.parent.mkdir(parents=True, exist_ok=True)
    with command.log_file.open("wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(command.argv, cwd=cwd, env=dict(command.env), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while not _pings(f"{base_url}/ping"):
                if process.poll() is not None:
                    raise LoadTestError(
                        f"{command.name} exited with {process.returncode}:\n{_log_tail(command.log_file)}"
                    )
                if time.monotonic() > deadline:
                    raise LoadTestError(f"{command.name} did not answer /ping within {START_TIMEOUT_SECONDS:.0f} s")
                time.sleep(0.05)
            if ready is not None:
                ready["seconds"] = time.monotonic() - started
            yield base_url
        finally:
            _stop(process)


def check_invocation(url: str, body: bytes) -> dict[str, Any]:
    """One request by hand before loading the server: it must answer 200 with predictions."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            payload: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise LoadTestError(f"POST {url} answered {error.code}: {error.read()[:500]!r}") from None
    if not isinstance(payload.get("predictions"), list):
        raise LoadTestError(f"POST {url} answered without a predictions list: {payload!r:.500}")
    return payload


def _milliseconds(value: str, unit: str) -> float:
    return float(value) * _TIME_UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    """Requests/sec, the 50% and 99% latencies, the request count and every kind of error."""
    percentiles = {float(p): _milliseconds(value, unit) for p, value, unit in _PERCENTILE.findall(output)}
    rate = _REQUESTS_PER_SECOND.search(output)
    total = _TOTAL.search(output)
    if rate is None or total is None or 50.0 not in percentiles or 99.0 not in percentiles:
        raise LoadTestError(f"could not read wrk's output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket_errors = _SOCKET_ERRORS.search(output)
    return WrkResult(
        requests_per_second=float(rate.group(1)),
        p50_ms=percentiles[50.0],
        p99_ms=percentiles[99.0],
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(count) for count in socket_errors.groups()) if socket_errors else 0,
    )


def run_wrk(url: str, body_file: Path, seconds: int, threads: int = 2, connections: int = 8) -> WrkResult:
    """``wrk -tT -cC -dNs --latency -s wrk_post.lua URL -- BODY_FILE``, parsed."""
    argv = [
        require_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
        "--",
        str(body_file),
    ]
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if completed.returncode != 0:
        raise LoadTestError(f"wrk exited with {completed.returncode}:\n{completed.stderr}{completed.stdout}")
    return parse_wrk(completed.stdout)


def source_path() -> str:
    """The project's source folders as a PYTHONPATH: pyproject.toml's list (pytest's pythonpath), the one list."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        folders = tomllib.load(file)["tool"]["pytest"]["ini_options"]["pythonpath"]
    return os.pathsep.join(str(ROOT / folder) for folder in folders)


def local_stack_env(data: Path, port: int, **extra: str) -> dict[str, str]:
    """This environment for the local stack on free ports with its own data folder, nothing pointing elsewhere."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if key not in {"AWS_ENDPOINT_URL", "ADMIN_API_KEY", "BACKEND", "PYTHONPATH", "RETRAIN_THRESHOLD"}
    }
    return kept | {
        "PORT": str(port),
        "MOTO_PORT": str(free_port()),
        "MODEL_PORT": str(free_port()),
        "LOCAL_DATA": str(data),
        # One address sends the whole load: the limits per client stay in the path, out of reach.
        "CLIENT_RATE_LIMIT": "1000000000",
        "CLIENT_WRITE_RATE_LIMIT": "1000000000",
        "PYTHONPATH": source_path(),
        **extra,
    }


@contextmanager
def running_local_stack(argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> Iterator[int]:
    """``argv`` (``make up``, or ``python -m sentiment_local up``) in its own process group, logging to
    ``log_path``, until it says it is up; yields the group's id. Then stopped as Ctrl-C stops it (SIGTERM
    to the group), in order."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + LOCAL_STACK_START_SECONDS
        while "The local stack is up." not in log_path.read_text(errors="replace"):
            if process.poll() is not None:
                raise RuntimeError(f"the local stack exited with {process.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the local stack did not come up in {LOCAL_STACK_START_SECONDS} s; see {log_path}")
            time.sleep(0.5)
        yield process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
