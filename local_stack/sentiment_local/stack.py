"""``make up``: the whole system on this machine, with moto's server standing in for AWS.

One process owns moto's server, the functions' workers, their event sources, the HTTP gateway, the
training jobs and the model server; Ctrl-C or SIGTERM stops all of them. Data lives in one folder
(``build/local`` by default) and survives restarts:

    <data>/journal/                      tables, objects and queued messages: every change journaled
                                         before moto answers, replayed on the next start
    <data>/logs/<LogicalId>.log          each function's log; model.log, the model server's
    <data>/logs/training-<job>.log       each training job's log
    <data>/logs/notifications.log        every message the template's SNS topics published, one JSON a line
    <data>/training-jobs/<job>/          each training job's /opt/ml
    <data>/endpoints/<endpoint>.json     the model a SageMaker endpoint serves (the model server watches it)
    <data>/iam-usage.jsonl               every action each principal was allowed (LOCAL_IAM_USAGE moves it)

Every principal runs with its own role's credentials, and each AWS call it makes is checked against
that role's policies (:mod:`sentiment_local.iam`); ``LOCAL_IAM=off`` turns the check off, for debugging.
"""

from __future__ import annotations

import contextlib
import faulthandler
import hashlib
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from sentiment_deploy.bootstrap import (
    CHAMPION_KEY,
    TRAINING_DATA_PREFIX,
    champion_of,
    read_archive_metadata,
    read_champion_pointer,
    read_s3_object,
    register_champion,
    seed_embedding_cache,
    store_model,
    train_first_model,
    upload_training_data,
    write_champion_pointer,
)
from werkzeug.serving import BaseWSGIServer, make_server

from sentiment_common.registry import Champion
from sentiment_local import iam, moto_gaps
from sentiment_local.event_sources import Schedule, SqsPoller, rate_seconds
from sentiment_local.functions import Runner
from sentiment_local.gateway import Cors, Gateway
from sentiment_local.journal import Journal
from sentiment_local.notifications import NotificationLog, subscribe_queue
from sentiment_local.resources import (
    LimitExceeded,
    create_buckets,
    create_functions,
    create_notifications,
    create_parameters,
    create_queues,
    create_roles,
    create_sagemaker_endpoint,
    create_secrets,
    create_state_machines,
    create_tables,
    create_topics,
)
from sentiment_local.stack_record import record_stack
from sentiment_local.template import ACCOUNT, REGION, ROOT, Template
from sentiment_local.training_jobs import TrainingJobs

log = logging.getLogger("sentiment_local")

LOCAL_IMAGE = "sentiment-model:local"
MODEL_START_TIMEOUT_S = 120
MODEL_RESTART_DELAY_S = 2
STOP_REPORT_S = 30  # a stop still running by then prints every thread's stack to the log
ENDPOINT_UPDATE_TIMEOUT_S = 120
CHAMPION_POLL_SECONDS = "1"  # how often the model server re-reads the champion pointer
ADMIN_KEY_SECRET = "AdminApiKeySecret"  # noqa: S105 - the secret's logical id, not a secret


class StackError(RuntimeError):
    """Something the user can fix; the message says what."""


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 3000
    moto_port: int = 5000
    moto_host: str = "127.0.0.1"
    model_port: int = 8080
    backend: str = "sagemaker"
    data_dir: Path = ROOT / "build" / "local"
    concurrency: int = 4
    admin_api_key: str | None = None
    retrain_threshold: int | None = None
    retrain_min_interval_minutes: int | None = None
    retrain_max_per_day: int | None = None
    monitoring_schedule: str | None = None
    prefix: str = "sentiment-local"
    iam_enforced: bool = True
    iam_usage: Path | None = None

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        """The settings a user can give ``make up``, all optional:

        ``PORT`` (3000) the API and web page, ``MOTO_PORT`` (5000) the AWS endpoint, ``MODEL_PORT``
        (8080) the model server; ``BACKEND`` (sagemaker | ecs) how the model is served;
        ``LOCAL_DATA`` (build/local) the data folder; ``LOCAL_CONCURRENCY`` (4) environments per
        function; ``ADMIN_API_KEY`` the admin key (else one generated once and kept with the data);
        ``RETRAIN_THRESHOLD`` (the template's default) feedback items that start a retraining run;
        ``RETRAIN_MIN_INTERVAL_MINUTES`` and ``RETRAIN_MAX_PER_DAY`` (the template's defaults) the guard on
        runs started by feedback; ``MONITORING_SCHEDULE`` (the template's default, rate(1 hour)) how often
        the scheduled monitoring runs;
        ``LOCAL_IAM`` (enforce | off) whether each principal's calls are checked against its role;
        ``LOCAL_IAM_USAGE`` (<data>/iam-usage.jsonl) where the actions each principal used are listed;
        ``MOTO_HOST`` (127.0.0.1) the address the AWS endpoint listens on: 0.0.0.0 lets containers
        (``sam local invoke``) reach it, and everyone else on the network too.
        """
        env = dict(os.environ if environ is None else environ)
        backend = env.get("BACKEND", "sagemaker")
        if backend not in {"sagemaker", "ecs"}:
            raise StackError(f"BACKEND must be sagemaker or ecs, not {backend!r}")
        enforcement = env.get("LOCAL_IAM", "enforce")
        if enforcement not in {"enforce", "off"}:
            raise StackError(f"LOCAL_IAM must be enforce or off, not {enforcement!r}")
        try:
            settings = cls(
                port=int(env.get("PORT", 3000)),
                moto_port=int(env.get("MOTO_PORT", 5000)),
                moto_host=env.get("MOTO_HOST") or "127.0.0.1",
                model_port=int(env.get("MODEL_PORT", 8080)),
                backend=backend,
                data_dir=Path(env.get("LOCAL_DATA", ROOT / "build" / "local")).resolve(),
                concurrency=int(env.get("LOCAL_CONCURRENCY", 4)),
                admin_api_key=env.get("ADMIN_API_KEY") or None,
                retrain_threshold=int(env["RETRAIN_THRESHOLD"]) if env.get("RETRAIN_THRESHOLD") else None,
                retrain_min_interval_minutes=_number(env, "RETRAIN_MIN_INTERVAL_MINUTES"),
                retrain_max_per_day=_number(env, "RETRAIN_MAX_PER_DAY"),
                monitoring_schedule=env.get("MONITORING_SCHEDULE") or None,
                iam_enforced=enforcement == "enforce",
                iam_usage=Path(env["LOCAL_IAM_USAGE"]).resolve() if env.get("LOCAL_IAM_USAGE") else None,
            )
        except ValueError as error:
            raise StackError(
                "PORT, MOTO_PORT, MODEL_PORT, LOCAL_CONCURRENCY, RETRAIN_THRESHOLD, RETRAIN_MIN_INTERVAL_MINUTES and "
                f"RETRAIN_MAX_PER_DAY must be numbers: {error}"
            ) from error
        for name, value, least in (
            ("RETRAIN_THRESHOLD", settings.retrain_threshold, 1),
            ("RETRAIN_MIN_INTERVAL_MINUTES", settings.retrain_min_interval_minutes, 0),
            ("RETRAIN_MAX_PER_DAY", settings.retrain_max_per_day, 1),
        ):
            if value is not None and value < least:
                raise StackError(f"{name} must be {least} or more, not {value}")
        return settings

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "stack.json"

    @property
    def iam_usage_file(self) -> Path:
        return self.iam_usage or self.data_dir / "iam-usage.jsonl"


def _number(env: dict[str, str], name: str) -> int | None:
    return int(env[name]) if env.get(name) else None


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


def register_first_model(s3: Any, bucket: str, archive_path: Path, train: bool = True) -> Champion:
    """The champion named in the bucket; on a first start, train a model if needed and register it."""
    champion = read_champion_pointer(s3, bucket)
    if champion is not None:
        return champion
    if not archive_path.exists():
        if not train:
            raise StackError(f"no model registered and no {archive_path}")
        train_first_model(archive_path)
    champion, _ = store_model(s3, bucket, archive_path.read_bytes())
    return write_champion_pointer(s3, bucket, champion)


def write_pointer(path: Path, champion: Champion) -> None:
    """A champion pointer file, replaced whole: the model server may read it at any moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".json.tmp")
    scratch.write_bytes(champion.pointer())
    scratch.replace(path)


def read_pointer(path: Path) -> Champion:
    return Champion.model_validate_json(path.read_text())


class JournalRequests:
    """WSGI middleware in front of moto: the objects and messages a request changed are journaled once
    moto has finished with them, before its answer leaves (tables are journaled as they are written)."""

    def __init__(self, app: Any, journal: Journal) -> None:
        self._app = app
        self._journal = journal

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self._journal.request():
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
    endpoint_name: str | None = None  # the SageMaker endpoint, on that backend
    _servers: list[BaseWSGIServer] = field(default_factory=list)
    _pollers: list[SqsPoller | Schedule] = field(default_factory=list)
    _model: subprocess.Popen[bytes] | None = None
    _undo_gaps: Any = None
    _journal: Journal | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _supervisor: threading.Thread | None = None
    _wrote_state_file: bool = False
    _training: TrainingJobs | None = None
    _notifications: NotificationLog | None = None
    enforcer: iam.Enforcer | None = None
    served: Champion | None = None  # what the model server loads (on SageMaker, the endpoint's own copy)

    def __post_init__(self) -> None:
        self.template = Template.read(
            ROOT / "template.yaml", prefix=self.settings.prefix, overrides=parameter_overrides(self.settings)
        )

    @property
    def endpoint(self) -> str:
        host = self.settings.moto_host
        return f"http://{'127.0.0.1' if host in {'0.0.0.0', '::'} else host}:{self.settings.moto_port}"  # noqa: S104

    @property
    def bucket(self) -> str:
        return self.template.physical_name("DataBucket")

    @property
    def pointer_file(self) -> Path:
        """On the SageMaker backend, the model the endpoint serves; rewritten by an endpoint update."""
        return self.settings.data_dir / "endpoints" / f"{self.endpoint_name}.json"

    @property
    def notifications_log(self) -> Path:
        return self.settings.data_dir / "logs" / "notifications.log"

    @property
    def model_url(self) -> str:
        return self.settings.url(self.settings.model_port)

    def client(self, service: str, role_arn: str | None = None) -> Any:
        """A client as the deployer (the local stack itself), or as a principal running with ``role_arn``."""
        keys = (
            iam.credentials_for(role_arn)
            if role_arn
            else {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}  # moto accepts any credentials
        )
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=keys.get("AWS_SESSION_TOKEN"),
        )

    @property
    def serving_role(self) -> str:
        """The role the model container runs with: SageMaker's execution role, or the ECS task role."""
        return self.template.role_arn("ModelTaskRole" if self.settings.backend == "ecs" else "SageMakerExecutionRole")

    # ---- start ----

    def start(self) -> None:
        settings = self.settings
        check_ports(settings)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.key = admin_key(settings)
        specs = [self.template.function(logical_id, self.endpoint) for logical_id in self.template.functions()]
        overrides = {"MODEL_URL": self.model_url} if settings.backend == "ecs" else {}
        runner = self.runner = Runner(specs, self.endpoint, settings.data_dir / "logs", settings.concurrency, overrides)
        self._training = TrainingJobs(
            settings.data_dir / "training-jobs",
            settings.data_dir / "logs",
            self.client("s3"),
            s3_for_role=lambda role: self.client("s3", role),
        )
        journal = self._journal = Journal(
            settings.data_dir / "journal", self.template, legacy=settings.data_dir / "snapshot"
        )
        self._undo_gaps = moto_gaps.install(
            runner,
            lambda: self.model_url,
            training=self._training,
            on_endpoint_update=self.on_endpoint_update,
            changes=journal,
        )
        self._start_moto(journal)
        champion = self._create_resources(specs, journal)
        self._start_model(champion)
        self._start_event_sources(runner)
        self._start_schedules(runner)
        self._start_notifications()
        self._start_gateway(runner)
        record_stack(
            self.template,
            self.client,
            api_url=settings.url(settings.port),
            queue_endpoint=self.endpoint,
            endpoint_name=self.endpoint_name,
        )
        settings.state_file.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "api": settings.url(settings.port),
                    "aws": self.endpoint,
                    "moto_host": settings.moto_host,
                    "moto_port": settings.moto_port,
                    "model": self.model_url,
                    # What each function's environment holds, as the template declares it: make env-vars
                    "functions": {spec.logical_id: {**spec.environment, **overrides} for spec in specs},
                }
            )
        )
        self._wrote_state_file = True

    def _start_moto(self, journal: Journal) -> None:
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - moto loads only when a stack runs
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        # MOTO_PORT: where moto's Step Functions interpreter calls. The rest: code in this process that
        # uses boto3's defaults (the registry's data access) talks to moto, never to AWS.
        os.environ.update(
            {
                "MOTO_PORT": str(self.settings.moto_port),
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
            }
        )
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
            os.environ.pop(name, None)
        app: Any = DomainDispatcherApplication(create_backend_app)
        if self.settings.iam_enforced:
            # The roles are read once the resources exist (a secret's ARN is made up when it is created);
            # until then only the deployer calls.
            app = self.enforcer = iam.Enforcer(
                app, {}, secret_arn=moto_gaps.secret_arn, usage_file=self.settings.iam_usage_file
            )
        server = make_server(
            self.settings.moto_host,
            self.settings.moto_port,
            JournalRequests(app, journal),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self._servers.append(server)
        _serve(server, "moto")
        request = urllib.request.Request(  # noqa: S310 - our own moto server
            f"{self.endpoint}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310

    def _create_resources(self, specs: list[Any], journal: Journal) -> Champion:
        template = self.template
        create_tables(template, self.client("dynamodb"))
        create_buckets(template, self.client("s3"))
        create_queues(template, self.client("sqs"))
        create_topics(template, self.client("sns"))
        create_parameters(template, self.client("ssm"))
        create_secrets(template, self.client("secretsmanager"), {ADMIN_KEY_SECRET: self.key})
        for logical_id in template.of_type("AWS::SecretsManager::Secret"):
            # A secret's Ref is its ARN, which Secrets Manager made up: policies name it so.
            template.pinned[logical_id] = moto_gaps.secret_arn(template.physical_name(logical_id))
        if self.enforcer is not None:
            self.enforcer.load({**iam.principals(template), "Deployer": iam.deployer()})
        create_roles(template, self.client("iam"))
        try:
            create_functions(template, specs, self.client("iam"), self.client("lambda"))
        except LimitExceeded as error:
            raise StackError(str(error)) from error
        create_state_machines(template, self.client("iam"), self.client("stepfunctions"))
        restored = journal.restore()  # until it has run, the journal refuses to save
        if restored.items or restored.objects or restored.messages:
            print(
                f"Restored {restored.items} items, {restored.objects} objects and {restored.messages} queued messages "
                f"from {journal.directory}",
                flush=True,
            )
        # After the restore, so restored objects do not notify again.
        create_notifications(template, self.client("s3"))
        s3 = self.client("s3")
        uploaded = upload_training_data(s3, self.bucket)
        if uploaded:
            print(f"Uploaded the training data to s3://{self.bucket}/{TRAINING_DATA_PREFIX}", flush=True)
        champion = self.champion = register_first_model(s3, self.bucket, ROOT / "build" / "model.tar.gz")
        seed_embedding_cache(s3, self.bucket)
        _, metadata = champion_of(s3, champion.model_data_url)
        register_champion(template.physical_name("RegistryTable"), champion, metadata)
        if self.settings.backend == "sagemaker":
            template.overrides = {
                **template.overrides,
                "ModelDataUrl": champion.model_data_url,
                "ModelSha256": champion.sha256,
            }
            self.endpoint_name = create_sagemaker_endpoint(template, self.client("sagemaker"))
            served = self.stage(champion.model_data_url)
            write_pointer(self.pointer_file, served)
            return served
        return champion

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
                self._launch_model(self.served or champion)
            except StackError as error:
                log.warning("%s", error)

    def model_environment(self, champion: Champion) -> dict[str, str]:
        """The model server's environment: it serves the champion its pointer names and follows it, with
        ``champion`` as the fallback.

        - ECS: the registry's pointer in the bucket, read with the task role's credentials.
        - SageMaker: the endpoint's pointer file, naming the model SageMaker downloaded for the endpoint
          (:meth:`stage`); like a container behind an endpoint, it gets no AWS endpoint or credentials.
        """
        common = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT / "model_training"),
            "HOST": self.settings.host,
            "PORT": str(self.settings.model_port),
            "MODEL_URI": champion.model_data_url,
            "MODEL_SHA256": champion.sha256,
            "CHAMPION_POLL_SECONDS": CHAMPION_POLL_SECONDS,
        }
        if self.settings.backend == "sagemaker":
            return {**common, "CHAMPION_URI": str(self.pointer_file)}
        return {
            **common,
            "CHAMPION_URI": f"s3://{self.bucket}/{CHAMPION_KEY}",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            **iam.credentials_for(self.serving_role),
        }

    @property
    def models_dir(self) -> Path:
        """Where SageMaker keeps the models it downloaded for the endpoint."""
        return self.settings.data_dir / "endpoints" / str(self.endpoint_name)

    def stage(self, model_data_url: str) -> Champion:
        """What SageMaker does before a container serves a model: download its ``model.tar.gz`` with the
        model's execution role and hash it. The container reads the copy (its ``/opt/ml/model``)."""
        data = read_s3_object(self.client("s3", self.serving_role), model_data_url)
        metadata = read_archive_metadata(data)
        digest = hashlib.sha256(data).hexdigest()
        readable = re.sub(r"[^A-Za-z0-9._-]", "-", str(metadata["version"]))  # a name, never a path
        local = self.models_dir / f"{readable}-{digest[:16]}.tar.gz"
        if not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            scratch = local.with_suffix(".tmp")
            scratch.write_bytes(data)
            scratch.replace(local)
        self.served = Champion(version=str(metadata["version"]), model_data_url=str(local), sha256=digest)
        return self.served

    def _launch_model(self, champion: Champion) -> None:
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / "model.log").open("ab") as output:
            self._model = subprocess.Popen(
                [sys.executable, "-m", "sentiment_model.container", "serve"],
                env=self.model_environment(champion),
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

    def served_version(self) -> str | None:
        """The model version the model server answers with, if it answers."""
        with (
            contextlib.suppress(OSError, ValueError),
            urllib.request.urlopen(  # noqa: S310 - the local model server
                f"{self.model_url}/ping", timeout=2
            ) as answer,
        ):
            version = json.loads(answer.read()).get("model_version")
            return None if version is None else str(version)
        return None

    def on_endpoint_update(self, endpoint_name: str, model_data_url: str) -> None:
        """What a SageMaker endpoint update is here: the endpoint's pointer file names the new model
        (downloaded and hashed, as SageMaker does), and the update ends once the model server answers
        with its version. If it does not in time, the pointer names the previous model again."""
        if endpoint_name != self.endpoint_name:
            raise StackError(f"the local stack serves one endpoint, {self.endpoint_name}, not {endpoint_name}")
        previous = read_pointer(self.pointer_file)
        staged = self.stage(model_data_url)
        write_pointer(self.pointer_file, staged)
        deadline = time.monotonic() + ENDPOINT_UPDATE_TIMEOUT_S
        while time.monotonic() < deadline and not self._stop.is_set():
            if self.served_version() == staged.version:
                self.champion = Champion(version=staged.version, model_data_url=model_data_url, sha256=staged.sha256)
                log.info("endpoint %s serves model %s", endpoint_name, staged.version)
                return
            time.sleep(0.5)
        write_pointer(self.pointer_file, previous)
        self.served = previous
        champion = staged
        raise StackError(
            f"the model server did not serve model {champion.version} within {ENDPOINT_UPDATE_TIMEOUT_S} s; "
            f"see {self.settings.data_dir / 'logs' / 'model.log'}"
        )

    def _start_notifications(self) -> None:
        topics = [self.template.arn(logical_id) for logical_id in self.template.of_type("AWS::SNS::Topic")]
        sqs = self.client("sqs")
        url = subscribe_queue(self.client("sns"), sqs, f"{self.settings.prefix}-notifications", topics)
        self._notifications = NotificationLog(sqs, url, self.notifications_log)
        self._notifications.start()

    def _start_event_sources(self, runner: Runner) -> None:
        for logical_id, _name, properties in self.template.events("SQS"):
            queue = properties["Queue"]["Fn::GetAtt"][0]
            poller = SqsPoller(
                runner,
                logical_id,
                # Lambda polls the queue with the function's own role.
                sqs=self.client("sqs", self.template.execution_role_arn(logical_id)),
                queue_url=self.template.queue_url(queue, self.endpoint),
                queue_arn=self.template.arn(queue),
                properties=self.template.resolve(properties),
            )
            poller.start()
            self._pollers.append(poller)

    def _start_schedules(self, runner: Runner) -> None:
        for logical_id, name, properties in self.template.events("Schedule"):
            resolved = self.template.resolve(properties)
            if resolved.get("Enabled") is False or resolved.get("State") == "DISABLED":
                continue
            try:
                seconds = rate_seconds(str(resolved["Schedule"]))
            except ValueError as error:
                raise StackError(f"{logical_id}'s {name} schedule: {error}") from error
            rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{self.settings.prefix}-{logical_id}{name}"
            schedule = Schedule(runner, logical_id, rule_arn=rule_arn, seconds=seconds)
            schedule.start()
            self._pollers.append(schedule)

    def _start_gateway(self, runner: Runner) -> None:
        gateway = Gateway(
            self.template.http_routes(), runner.invoke, Cors.of(self.template.http_api_cors()), ROOT / "frontend"
        )
        server = make_server(self.settings.host, self.settings.port, gateway, threaded=True)
        self._servers.append(server)
        _serve(server, "gateway")

    # ---- run and stop ----

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
                f"  notifications      {self.notifications_log}",
                "  IAM                "
                + (
                    f"each call checked against its role's policies; granted actions used: {settings.iam_usage_file}"
                    if settings.iam_enforced
                    else "not checked (LOCAL_IAM=off)"
                ),
                "Press Ctrl-C to stop.",
                "",
            ]
        )

    def stop(self) -> None:
        self._stop.set()
        # Executions still running lose their functions, their training job and then moto itself on
        # the way out; moto's interpreter would log each of those failures. They end with the process.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        if self._supervisor is not None:
            self._supervisor.join()  # it checks the stop flag every second, and while a start waits
        for server in reversed(self._servers[1:]):  # the gateway first; moto last
            server.shutdown()
        self._stop_functions()
        if self._notifications is not None:
            self._notifications.stop()
            self._notifications.join(timeout=5)
        if self._training is not None:
            self._training.close()
        self._stop_model()
        if self._journal is not None:
            self._journal.close()
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


def parameter_overrides(settings: Settings) -> dict[str, str]:
    """The template's parameters as the local stack sets them: the backend, a model image (so the
    model resources exist), deployment checks every second, and the retraining settings when given."""
    overrides = {"InferenceBackend": settings.backend, "ModelImageUri": LOCAL_IMAGE, "DeployPollSeconds": "1"}
    for parameter, value in (
        ("RetrainThreshold", settings.retrain_threshold),
        ("RetrainMinIntervalMinutes", settings.retrain_min_interval_minutes),
        ("RetrainMaxPerDay", settings.retrain_max_per_day),
        ("MonitoringSchedule", settings.monitoring_schedule),
    ):
        if value is not None:
            overrides[parameter] = str(value)
    return overrides


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
        # A stop that hangs says where: every thread's stack, once, after STOP_REPORT_S.
        faulthandler.dump_traceback_later(STOP_REPORT_S, file=sys.stderr)
        try:
            stack.stop()
        finally:
            faulthandler.cancel_dump_traceback_later()
    print("Stopped; the data is kept.", flush=True)
    return 0
