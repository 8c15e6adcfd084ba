"""The model server: the image's ``serve`` (``sentiment_model.container``) as a process on ``MODEL_PORT``,
replaced when it stops, as an ECS service or a SageMaker endpoint replaces its container. What it
serves, and where it follows the champion, is the backend's to say (:mod:`sentiment_local.sagemaker.endpoint`)."""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from sentiment_common.registry import Champion
from sentiment_local.environment import Settings, StackError

log = logging.getLogger("sentiment_local")

MODEL_START_TIMEOUT_S = 120
MODEL_RESTART_DELAY_S = 2

Environment = Callable[[Champion], dict[str, str]]
"""The server's environment when it starts on a model."""


class ModelServer:
    def __init__(self, settings: Settings, stopping: threading.Event) -> None:
        self.settings = settings
        self._stopping = stopping
        self._process: subprocess.Popen[bytes] | None = None
        self._supervisor: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.settings.url(self.settings.model_port)

    @property
    def log_file(self) -> Path:
        return self.settings.data_dir / "logs" / "model.log"

    def start(self, champion: Champion, environment: Environment, latest: Callable[[], Champion | None]) -> None:
        """Serve ``champion`` and keep a server running until the stack stops; a replacement starts on
        ``latest()``, the model last staged for the endpoint, or on ``champion`` when there is none."""
        self._launch(champion, environment)
        self._supervisor = threading.Thread(
            target=self._supervise, args=(champion, environment, latest), name="model-supervisor", daemon=True
        )
        self._supervisor.start()

    def _supervise(self, champion: Champion, environment: Environment, latest: Callable[[], Champion | None]) -> None:
        """Like an ECS service or a SageMaker endpoint, replace a model server that stopped."""
        while not self._stopping.wait(1):
            process = self._process
            if process is None or process.poll() is None:
                continue
            log.warning("the model server stopped (exit %s); starting it again", process.returncode)
            if self._stopping.wait(MODEL_RESTART_DELAY_S):
                return
            try:
                self._launch(latest() or champion, environment)
            except StackError as error:
                log.warning("%s", error)

    def _launch(self, champion: Champion, environment: Environment) -> None:
        logs = self.log_file.parent
        logs.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as output:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "sentiment_model.container", "serve"],
                env=environment(champion),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + MODEL_START_TIMEOUT_S
        while time.monotonic() < deadline and not self._stopping.is_set():
            if self._process.poll() is not None:
                raise StackError(f"the model server exited with {self._process.returncode}; see {self.log_file}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/ping", timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return
            time.sleep(0.2)
        if self._stopping.is_set():
            return
        raise StackError(f"the model server did not answer /ping in {MODEL_START_TIMEOUT_S} s; see {self.log_file}")

    def serving(self) -> tuple[str | None, str | None]:
        """The model version the model server answers with, if it answers, and why it refused the last
        champion it was pointed at, if it did (it then goes on serving the model it had)."""
        with (
            contextlib.suppress(OSError, ValueError),
            urllib.request.urlopen(  # noqa: S310 - the local model server
                f"{self.url}/ping", timeout=2
            ) as answer,
        ):
            body = json.loads(answer.read())
            version, refused = body.get("model_version"), body.get("champion_error")
            return (None if version is None else str(version)), (None if refused is None else str(refused))
        return None, None

    def stop_supervising(self) -> None:
        """Wait for the supervisor, which checks the stop flag every second, and while a start waits."""
        if self._supervisor is not None:
            self._supervisor.join()

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
