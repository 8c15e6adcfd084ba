"""``make up``: the whole system on this machine, with moto's server standing in for AWS.

One process owns moto's server, the functions' workers, their event sources, the HTTP gateway and
the model server; Ctrl-C or SIGTERM stops all of them. Data lives in one folder (``build/local`` by
default) and survives restarts.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from werkzeug.serving import BaseWSGIServer, make_server

from sentiment_local import moto_gaps
from sentiment_local.event_sources import SqsPoller
from sentiment_local.functions import Runner
from sentiment_local.gateway import Cors, Gateway
from sentiment_local.resources import (
    create_buckets,
    create_functions,
    create_notifications,
    create_parameters,
    create_queues,
    create_sagemaker_endpoint,
    create_tables,
    create_topics,
)
from sentiment_local.snapshot import Snapshot
from sentiment_local.template import REGION, ROOT, Template

log = logging.getLogger("sentiment_local")

LOCAL_IMAGE = "sentiment-model:local"
CHAMPION_KEY = "models/champion.json"
MODEL_START_TIMEOUT_S = 120
MODEL_RESTART_DELAY_S = 2


class StackError(RuntimeError):
    """Something the user can fix; the message says what."""


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 3000
    moto_port: int = 5000
    model_port: int = 8080
    backend: str = "sagemaker"
    data_dir: Path = ROOT / "build" / "local"
    concurrency: int = 4
    snapshot_seconds: float = 2.0
    admin_api_key: str | None = None
    prefix: str = "sentiment-local"

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        backend = env.get("BACKEND", "sagemaker")
        if backend not in {"sagemaker", "ecs"}:
            raise StackError(f"BACKEND must be sagemaker or ecs, not {backend!r}")
        try:
            return cls(
                port=int(env.get("PORT", 3000)),
                moto_port=int(env.get("MOTO_PORT", 5000)),
                model_port=int(env.get("MODEL_PORT", 8080)),
                backend=backend,
                data_dir=Path(env.get("LOCAL_DATA", ROOT / "build" / "local")).resolve(),
                concurrency=int(env.get("LOCAL_CONCURRENCY", 4)),
                admin_api_key=env.get("ADMIN_API_KEY") or None,
            )
        except ValueError as error:
            raise StackError(f"PORT, MOTO_PORT, MODEL_PORT and LOCAL_CONCURRENCY must be numbers: {error}") from error

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "stack.json"


def admin_key(settings: Settings) -> str:
    """``ADMIN_API_KEY`` when set; otherwise the key generated on the first start, kept with the data."""
    if settings.admin_api_key:
        return settings.admin_api_key
    path = settings.data_dir / "admin-api-key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key


def check_ports(settings: Settings) -> None:
    for name, port in (("PORT", settings.port), ("MOTO_PORT", settings.moto_port), ("MODEL_PORT", settings.model_port)):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((settings.host, port))
            except OSError as error:
                raise StackError(
                    f"port {port} on {settings.host} is already in use ({error.strerror}); is another `make up` "
                    f"running? Stop it, or choose another port: make up {name}=<port>"
                ) from error


@dataclass
class Champion:
    version: str
    model_data_url: str
    sha256: str


def read_archive_metadata(archive: bytes) -> dict[str, Any]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = tar.extractfile("metadata.json")
        if member is None:
            raise StackError("the model archive holds no metadata.json")
        metadata: dict[str, Any] = json.loads(member.read())
        return metadata


def register_first_model(s3: Any, bucket: str, archive_path: Path, train: bool = True) -> Champion:
    """The champion named in the bucket; on a first start, train a model if needed and register it."""
    with contextlib.suppress(s3.exceptions.NoSuchKey):
        pointer = json.loads(s3.get_object(Bucket=bucket, Key=CHAMPION_KEY)["Body"].read())
        return Champion(pointer["version"], pointer["model_data_url"], pointer["sha256"])
    if not archive_path.exists():
        if not train:
            raise StackError(f"no model registered and no {archive_path}")
        print("No model yet: training the first one on model_training/data (about half a minute)...", flush=True)
        subprocess.run(  # noqa: S603 - our own training script
            [
                sys.executable,
                str(ROOT / "model_training" / "train.py"),
                "--model-dir",
                str(archive_path.parent / "model"),
                "--archive",
                str(archive_path),
            ],
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "model_training")},
        )
    data = archive_path.read_bytes()
    metadata = read_archive_metadata(data)
    version = str(metadata["version"])
    digest = hashlib.sha256(data).hexdigest()
    prefix = f"models/{version}"
    s3.put_object(Bucket=bucket, Key=f"{prefix}/model.tar.gz", Body=data, ContentType="application/gzip")
    s3.put_object(
        Bucket=bucket, Key=f"{prefix}/metadata.json", Body=json.dumps(metadata).encode(), ContentType="application/json"
    )
    champion = Champion(version, f"s3://{bucket}/{prefix}/model.tar.gz", digest)
    pointer = {**champion.__dict__, "registered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    s3.put_object(Bucket=bucket, Key=CHAMPION_KEY, Body=json.dumps(pointer).encode(), ContentType="application/json")
    return champion


class DirtyMarker:
    """WSGI middleware in front of moto: any request that may write marks the data as changed."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self.changed = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") not in {"GET", "HEAD"}:
            self.changed.set()
        return self._app(environ, start_response)


def _serve(server: BaseWSGIServer, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread


@dataclass
class Stack:
    settings: Settings
    template: Template = field(init=False)
    runner: Runner | None = None
    champion: Champion | None = None
    key: str = ""
    _servers: list[BaseWSGIServer] = field(default_factory=list)
    _pollers: list[SqsPoller] = field(default_factory=list)
    _model: subprocess.Popen[bytes] | None = None
    _undo_gaps: Any = None
    _snapshot: Snapshot | None = None
    _marker: DirtyMarker | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _restored: bool = False
    _supervisor: threading.Thread | None = None
    _wrote_state_file: bool = False

    def __post_init__(self) -> None:
        overrides = {"InferenceBackend": self.settings.backend, "ModelImageUri": LOCAL_IMAGE}
        self.template = Template.read(ROOT / "template.yaml", prefix=self.settings.prefix, overrides=overrides)

    @property
    def endpoint(self) -> str:
        return self.settings.url(self.settings.moto_port)

    @property
    def model_url(self) -> str:
        return self.settings.url(self.settings.model_port)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
        )

    # ---- start ----

    def start(self) -> None:
        settings = self.settings
        check_ports(settings)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.key = admin_key(settings)
        specs = [self.template.function(logical_id, self.endpoint) for logical_id in self.template.functions()]
        overrides = {"MODEL_URL": self.model_url} if settings.backend == "ecs" else {}
        runner = self.runner = Runner(specs, self.endpoint, settings.data_dir / "logs", settings.concurrency, overrides)
        self._undo_gaps = moto_gaps.install(runner, lambda: self.model_url)
        marker = self._start_moto()
        snapshot, champion = self._create_resources(specs)
        self._start_model(champion)
        self._start_event_sources(runner)
        self._start_gateway(runner)
        threading.Thread(target=self._keep_saving, args=(marker, snapshot), name="snapshot", daemon=True).start()
        settings.state_file.write_text(
            json.dumps(
                {"pid": os.getpid(), "api": settings.url(settings.port), "aws": self.endpoint, "model": self.model_url}
            )
        )
        self._wrote_state_file = True

    def _start_moto(self) -> DirtyMarker:
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - moto loads only when a stack runs
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        os.environ["MOTO_PORT"] = str(self.settings.moto_port)  # where moto's Step Functions interpreter calls
        self._marker = DirtyMarker(DomainDispatcherApplication(create_backend_app))
        server = make_server(
            self.settings.host, self.settings.moto_port, self._marker, threaded=True, request_handler=MotoRequestHandler
        )
        self._servers.append(server)
        _serve(server, "moto")
        request = urllib.request.Request(  # noqa: S310 - our own moto server
            f"{self.endpoint}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310
        return self._marker

    def _create_resources(self, specs: list[Any]) -> tuple[Snapshot, Champion]:
        template = self.template
        create_tables(template, self.client("dynamodb"))
        create_buckets(template, self.client("s3"))
        create_queues(template, self.client("sqs"))
        create_topics(template, self.client("sns"))
        create_parameters(template, self.client("ssm"))
        create_functions(template, specs, self.client("iam"), self.client("lambda"))
        clients = {name: self.client(name) for name in ("dynamodb", "s3", "sqs")}
        self._snapshot = Snapshot(self.settings.data_dir / "snapshot", template, clients, moto_gaps.queued_messages)
        restored = self._snapshot.restore()
        self._restored = True  # from here on, saving cannot overwrite data that was not loaded
        if restored.items or restored.objects or restored.messages:
            print(
                f"Restored {restored.items} items, {restored.objects} objects and {restored.messages} queued messages "
                f"from {self._snapshot.directory}",
                flush=True,
            )
        # After the restore, so restored objects do not notify again.
        create_notifications(template, self.client("s3"))
        champion = self.champion = register_first_model(
            self.client("s3"), template.physical_name("DataBucket"), ROOT / "build" / "model.tar.gz"
        )
        if self.settings.backend == "sagemaker":
            template.overrides = {
                **template.overrides,
                "ModelDataUrl": champion.model_data_url,
                "ModelSha256": champion.sha256,
            }
            create_sagemaker_endpoint(template, self.client("iam"), self.client("sagemaker"))
        return self._snapshot, champion

    def _start_model(self, champion: Champion) -> None:
        self._launch_model(champion)
        self._supervisor = threading.Thread(
            target=self._supervise_model, args=(champion,), name="model-supervisor", daemon=True
        )
        self._supervisor.start()

    def _supervise_model(self, champion: Champion) -> None:
        """Like an ECS service or a SageMaker endpoint, replace a model server that stopped."""
        while not self._stop.wait(1):
            model = self._model
            if model is None or model.poll() is None:
                continue
            log.warning("the model server stopped (exit %s); starting it again", model.returncode)
            if self._stop.wait(MODEL_RESTART_DELAY_S):
                return
            try:
                self._launch_model(self.champion or champion)
            except StackError as error:
                log.warning("%s", error)

    def _launch_model(self, champion: Champion) -> None:
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT / "model_training"),
            "HOST": self.settings.host,
            "PORT": str(self.settings.model_port),
            "MODEL_URI": champion.model_data_url,
            "MODEL_SHA256": champion.sha256,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }
        with (logs / "model.log").open("ab") as output:
            self._model = subprocess.Popen(
                [sys.executable, "-m", "sentiment_model.container", "serve"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + MODEL_START_TIMEOUT_S
        while time.monotonic() < deadline and not self._stop.is_set():
            if self._model.poll() is not None:
                raise StackError(f"the model server exited with {self._model.returncode}; see {logs / 'model.log'}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.model_url}/ping", timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return
            time.sleep(0.2)
        if self._stop.is_set():
            return
        raise StackError(
            f"the model server did not answer /ping in {MODEL_START_TIMEOUT_S} s; see {logs / 'model.log'}"
        )

    def _start_event_sources(self, runner: Runner) -> None:
        for logical_id, _name, properties in self.template.events("SQS"):
            queue = properties["Queue"]["Fn::GetAtt"][0]
            poller = SqsPoller(
                runner,
                logical_id,
                sqs=self.client("sqs"),
                queue_url=self.template.queue_url(queue, self.endpoint),
                queue_arn=self.template.arn(queue),
                properties=self.template.resolve(properties),
            )
            poller.start()
            self._pollers.append(poller)

    def _start_gateway(self, runner: Runner) -> None:
        gateway = Gateway(
            self.template.http_routes(), runner.invoke, Cors.of(self.template.http_api_cors()), ROOT / "frontend"
        )
        server = make_server(self.settings.host, self.settings.port, gateway, threaded=True)
        self._servers.append(server)
        _serve(server, "gateway")

    # ---- run and stop ----

    def _keep_saving(self, marker: DirtyMarker, snapshot: Snapshot) -> None:
        while not self._stop.wait(self.settings.snapshot_seconds):
            if marker.changed.is_set():
                marker.changed.clear()
                try:
                    snapshot.save()
                except Exception:
                    log.exception("saving the local data failed; retrying")
                    marker.changed.set()

    def banner(self) -> str:
        settings = self.settings
        api = settings.url(settings.port)
        version = self.champion.version if self.champion else "?"
        default = settings.data_dir == Settings().data_dir
        wipe = "make clean wipes it" if default else "delete the folder to start afresh"
        return "\n".join(
            [
                "",
                "The local stack is up.",
                f"  API and web page   {api}",
                f"  OpenAPI document   {api}/openapi.json",
                f"  AWS endpoint       {self.endpoint}   (moto; AWS_ENDPOINT_URL for the AWS CLI and boto3)",
                f"  model server       {self.model_url}   (model {version}, behind the {settings.backend} backend)",
                f"  admin key          {self.key}",
                f"  data               {settings.data_dir}   (kept across restarts; {wipe})",
                f"  function logs      {settings.data_dir / 'logs'}",
                "Press Ctrl-C to stop.",
                "",
            ]
        )

    def stop(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join()  # it checks the stop flag every second, and while a start waits
        for server in reversed(self._servers[1:]):  # the gateway first; moto last
            server.shutdown()
        self._stop_functions()
        self._stop_model()
        if self._snapshot is not None and self._restored:
            self._snapshot.save()
        for server in self._servers[:1]:
            server.shutdown()
        for server in self._servers:
            server.server_close()
        if self._undo_gaps is not None:
            self._undo_gaps()
        if self._wrote_state_file:
            with contextlib.suppress(FileNotFoundError):
                self.settings.state_file.unlink()

    def _stop_functions(self) -> None:
        for poller in self._pollers:
            poller.stop()
        for poller in self._pollers:
            poller.join(timeout=5)
        if self.runner is not None:
            self.runner.close()

    def _stop_model(self) -> None:
        if self._model is None:
            return
        self._model.terminate()
        try:
            self._model.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._model.kill()
            self._model.wait()


def up(settings: Settings) -> int:
    stack = Stack(settings)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        del signum
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        print(stack.banner(), flush=True)
        while not stopping.wait(0.5):
            pass
        print("Stopping...", flush=True)
    except StackError as error:
        print(f"make up: {error}", file=sys.stderr)
        return 2
    finally:
        stack.stop()
    print("Stopped; the data is kept.", flush=True)
    return 0
