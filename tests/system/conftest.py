"""The local stack as a user starts it: ``make up`` in its own process group, its own ports and data."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.conftest import ROOT
from tests.integration.conftest import free_port

START_TIMEOUT_S = 420  # a fresh clone trains its first model on start
# A stop prints every thread's stack after 30 s (STOP_REPORT_S): this leaves room for that report.
STOP_TIMEOUT_S = 90


@dataclass
class LocalStack:
    """One ``make up`` process group, its ports and its data folder."""

    env: dict[str, str]
    data: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"

    @property
    def aws(self) -> str:
        return f"http://127.0.0.1:{self.env['MOTO_PORT']}"

    @property
    def ports(self) -> list[int]:
        return [int(self.env[name]) for name in ("PORT", "MOTO_PORT", "MODEL_PORT")]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def start(self) -> None:
        seen = len(self.output()) if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["make", "--no-print-directory", "up"],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as a terminal would give it
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"make up exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            if "The local stack is up." in self.output()[seen:]:
                self._assert_no_shell_between()
                return
            time.sleep(0.5)
        raise AssertionError(f"make up did not come up in {START_TIMEOUT_S} s:\n{self.output()[-3000:]}")

    def _assert_no_shell_between(self) -> None:
        """make runs the stack itself, with no shell between them. A shell there dies of Ctrl-C or SIGTERM at
        once, and make, reaping it while its own signal handler also waits, can fail with "wait: No child
        processes" and exit 2 while the stack is still stopping."""
        assert self.process is not None
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        commands = [Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0") for child in children]
        assert [command[1:3] for command in commands] == [[b"-m", b"sentiment_local"]], commands

    def stop(self, signum: int = signal.SIGINT) -> None:
        """Signal the whole process group, as Ctrl-C in a terminal does. make itself dies of the signal,
        as it does in a terminal; the stack must have shut down in order, and every member be gone."""
        assert self.process is not None
        group = self.process.pid
        os.killpg(group, signum)
        stopped = self.output().count("Stopped; the data is kept.")
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            raise AssertionError(f"make up did not stop in {STOP_TIMEOUT_S} s:\n{self.output()[-6000:]}") from None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _group_alive(group):
            time.sleep(0.2)
        self.process = None
        assert not _group_alive(group), "a process of make up outlived it"
        assert code in {0, -signum}, self.output()[-3000:]
        assert self.output().count("Stopped; the data is kept.") == stopped + 1, self.output()[-3000:]

    def kill(self) -> None:
        """What ``kill -9`` or a power cut does: no shutdown at all; the data is what was saved by then."""
        assert self.process is not None
        group = self.process.pid
        os.killpg(group, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _group_alive(group):
            time.sleep(0.2)
        assert not _group_alive(group), "a process of make up outlived kill -9"

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.aws,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


# Every test client sends from 127.0.0.1, and a test sends far more than one person would: the limits per
# client address stay in the path but far out of reach, except where a test gives its own
# (tests/system/test_client_limits.py).
HIGH_CLIENT_LIMITS = {"CLIENT_RATE_LIMIT": "1000000000", "CLIENT_WRITE_RATE_LIMIT": "1000000000"}


def stack_environment(data: Path, **extra: str) -> dict[str, str]:
    """The caller's environment with free ports, its own data folder, limits per client out of reach, and
    nothing that would point the stack elsewhere."""
    env = {
        **os.environ,
        "PORT": str(free_port()),
        "MOTO_PORT": str(free_port()),
        "MODEL_PORT": str(free_port()),
        "LOCAL_DATA": str(data),
        **HIGH_CLIENT_LIMITS,
        **extra,
    }
    for name in ("AWS_ENDPOINT_URL", "ADMIN_API_KEY", "BACKEND", "PYTHONPATH", "RETRAIN_THRESHOLD",
                 "RETRAIN_MIN_INTERVAL_MINUTES", "RETRAIN_MAX_PER_DAY", "PUBLIC_LABELS",
                 "LOCAL_BEHIND_PROXY"):  # fmt: skip
        if name not in extra:
            env.pop(name, None)
    return env


RUN_TIMEOUT_S = 420  # a run trains on all the data: about a minute here, longer on a busy machine


def wait_for_run(api: httpx.Client, run_id: str, timeout: float = RUN_TIMEOUT_S) -> dict[str, Any]:
    """The run once it has finished (SUCCEEDED or FAILED)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = api.get(f"/training/{run_id}").json()
        if run.get("status") in {"SUCCEEDED", "FAILED"}:
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s: {run}")


def wait_for_new_run(api: httpx.Client, known: set[str], timeout: float = 60) -> dict[str, Any]:
    """The first run not in ``known`` to appear in GET /training."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in api.get("/training").json()["items"]:
            if run["run_id"] not in known:
                return dict(run)
        time.sleep(0.5)
    raise AssertionError(f"no new run started in {timeout} s")


def labelled_rows(source: str, count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Real labelled texts from the base data (never the golden split)."""
    with (ROOT / "model_training" / "data" / "base" / f"{source}.csv").open(newline="") as handle:
        rows = [(row["text"], row["label"]) for row in csv.DictReader(handle) if row["text"].strip()]
    random.Random(seed).shuffle(rows)
    return rows[:count]


def notifications(stack: LocalStack) -> list[dict[str, Any]]:
    path = stack.data / "logs" / "notifications.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@contextmanager
def running_stack(tmp_path_factory: pytest.TempPathFactory, name: str, **env: str) -> Iterator[LocalStack]:
    """``make up`` with its own ports and data folder, stopped (SIGTERM) at the end if still running."""
    data = tmp_path_factory.mktemp(name)
    stack = LocalStack(stack_environment(data, **env), data, data / "make-up.log")
    stack.start()
    try:
        yield stack
    finally:
        if stack.process is not None:
            stack.stop(signal.SIGTERM)


def make(*arguments: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``make <arguments>`` in the checkout as a user types it, with no terminal; its output captured."""
    return subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def module_stack(name: str, **env: str) -> Any:
    """A test module's ``local_stack`` fixture: one ``make up`` with these settings for the module's tests."""

    @pytest.fixture(scope="module", name="local_stack")
    def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
        with running_stack(tmp_path_factory, name, **env) as stack:
            yield stack

    return local_stack


@pytest.fixture(scope="module")
def api(local_stack: LocalStack) -> Iterator[httpx.Client]:
    """An HTTP client on the module's ``local_stack``."""
    with httpx.Client(base_url=local_stack.api, timeout=60) as client:
        yield client


def listening_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1:``port``, from /proc (the socket's inode, then its owner)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (process / "fd").iterdir()):
                return int(process.name)
        except OSError:  # gone meanwhile, or not ours
            continue
    return None
