"""Starting the real model server as a subprocess, the way the image runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    env: dict[str, str], command: list[str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``python -m sentiment_model.container serve``; yield its base URL once it listens."""
    port = free_port()
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "model_training"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **env,
    }
    process = subprocess.Popen(
        command or [sys.executable, "-m", "sentiment_model.container", "serve"],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {process.stdout.read().decode() if process.stdout else ''}")
            try:
                httpx.get(f"{url}/ping", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def enforced_moto(enforcer_principals: dict[str, Any] | None = None) -> Iterator[tuple[str, Any]]:
    """moto's server on a free port behind the local IAM check, reset; yields its URL and the enforcer."""
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - moto's server only where a test runs one
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415

    from sentiment_local.iam.enforcer import Enforcer  # noqa: PLC0415
    from sentiment_local.iam.presigned import PresignedUrls, role_secret  # noqa: PLC0415
    from sentiment_local.moto import data as moto_data  # noqa: PLC0415

    enforcer = Enforcer(
        DomainDispatcherApplication(create_backend_app),
        enforcer_principals or {},
        secret_arn=moto_data.secret_arn,
        resource_tags=moto_data.resource_tags,
        usage_file=Path(os.environ["LOCAL_IAM_USAGE"]) if os.environ.get("LOCAL_IAM_USAGE") else None,
    )
    port = free_port()
    app = PresignedUrls(enforcer, role_secret)  # as the local stack's server composes them
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    try:
        yield endpoint, enforcer
    finally:
        server.shutdown()
        server.server_close()


LOADING = "model is loading"


def wait_for_ping(url: str, seconds: float = 30) -> httpx.Response:
    """/ping once loading has finished, successfully (200) or not (503 saying why)."""
    deadline = time.monotonic() + seconds
    while True:
        response = httpx.get(f"{url}/ping", timeout=2)
        if response.status_code == 200 or response.json()["message"] != LOADING or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def model_env(model_dir: Path) -> dict[str, str]:
    return {"MODEL_URI": str(model_dir)}
