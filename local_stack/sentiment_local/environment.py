"""What a user gives ``make up``: the stack's settings, read from the environment once, the admin key
and the ports they name; and the template's parameters as those settings set them."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

from sentiment_deploy.local import LOCAL_DATA, STATE_FILE
from sentiment_local.sagemaker.training_jobs import ANY_INSTANCE_TYPE
from sentiment_template.reader import ROOT

LOCAL_IMAGE = "sentiment-model:local"
LOCAL_TRAINING_RETRY_SECONDS = 2  # the first wait after a refused CreateTrainingJob (the template's default: 60)


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
    data_dir: Path = LOCAL_DATA
    concurrency: int = 4
    admin_api_key: str | None = None
    retrain_threshold: int | None = None
    retrain_min_interval_minutes: int | None = None
    retrain_max_per_day: int | None = None
    monitoring_schedule: str | None = None
    public_labels: str | None = None
    compaction_schedule: str | None = None
    client_rate_limit: int | None = None
    client_write_rate_limit: int | None = None
    behind_proxy: bool = False
    admin_key_cache_seconds: int | None = None
    prefix: str = "sentiment-local"
    iam_enforced: bool = True
    iam_usage: Path | None = None
    template: Path = ROOT / "template.yaml"
    cold_start_seconds: float = 0.0
    idle_seconds: float = 600.0
    training_quota: dict[str, int] = field(default_factory=dict)
    training_throttle: int = 0

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
        the scheduled monitoring runs; ``ADMIN_KEY_CACHE_SECONDS`` (the template's default, 60) how long
        the admin authorizer reuses a read of the key (``AdminKeyCacheSeconds``); ``PUBLIC_LABELS`` (the
        template's default, suggest) what a public label does: train, suggest or ignore;
        ``COMPACTION_SCHEDULE`` (the template's default, rate(15 minutes)) how often the scheduled feedback
        compaction runs;
        ``CLIENT_RATE_LIMIT`` and ``CLIENT_WRITE_RATE_LIMIT`` (the template's defaults) the requests, and the
        public writes, one client address may send in any 5 minutes before the web ACL answers 429 (0
        turns the web ACL, or its write rule, off); ``LOCAL_BEHIND_PROXY`` (no | yes) whether the client is
        ``X-Forwarded-For``'s first address (a proxy of one's own in front) rather than the source address;
        ``LOCAL_IAM`` (enforce | off) whether each principal's calls are checked against its role;
        ``LOCAL_IAM_USAGE`` (<data>/iam-usage.jsonl) where the actions each principal used are listed;
        ``MOTO_HOST`` (127.0.0.1) the address the AWS endpoint listens on: 0.0.0.0 lets containers
        (``sam local invoke``) reach it, and everyone else on the network too;
        ``LOCAL_TEMPLATE`` (template.yaml) the template to stand up, its code folders read from the project;
        ``LOCAL_COLD_START_SECONDS`` (0: none) how long a serverless endpoint's first invocation after
        idle waits for an instance, and ``LOCAL_IDLE_SECONDS`` (600) after how long without an invocation
        it has none left;
        ``LOCAL_TRAINING_QUOTA`` (none) the account's training-instance quota SageMaker enforces: a number
        for every instance type, or ``<type>=<instances>,…`` per type (types not named are not limited);
        ``LOCAL_TRAINING_THROTTLE`` (0) how many of the first ``CreateTrainingJob`` calls are throttled.
        """
        env = dict(os.environ if environ is None else environ)
        backend = env.get("BACKEND", "sagemaker")
        if backend not in {"sagemaker", "ecs"}:
            raise StackError(f"BACKEND must be sagemaker or ecs, not {backend!r}")
        public_labels = env.get("PUBLIC_LABELS") or None
        if public_labels not in {None, "train", "suggest", "ignore"}:
            raise StackError(f"PUBLIC_LABELS must be train, suggest or ignore, not {public_labels!r}")
        enforcement = env.get("LOCAL_IAM", "enforce")
        if enforcement not in {"enforce", "off"}:
            raise StackError(f"LOCAL_IAM must be enforce or off, not {enforcement!r}")
        behind_proxy = env.get("LOCAL_BEHIND_PROXY") or "no"
        if behind_proxy not in {"yes", "no"}:
            raise StackError(f"LOCAL_BEHIND_PROXY must be yes or no, not {behind_proxy!r}")
        try:
            settings = cls(
                port=int(env.get("PORT", 3000)),
                moto_port=int(env.get("MOTO_PORT", 5000)),
                moto_host=env.get("MOTO_HOST") or "127.0.0.1",
                model_port=int(env.get("MODEL_PORT", 8080)),
                backend=backend,
                data_dir=Path(env.get("LOCAL_DATA", LOCAL_DATA)).resolve(),
                concurrency=int(env.get("LOCAL_CONCURRENCY", 4)),
                admin_api_key=env.get("ADMIN_API_KEY") or None,
                retrain_threshold=int(env["RETRAIN_THRESHOLD"]) if env.get("RETRAIN_THRESHOLD") else None,
                retrain_min_interval_minutes=_number(env, "RETRAIN_MIN_INTERVAL_MINUTES"),
                retrain_max_per_day=_number(env, "RETRAIN_MAX_PER_DAY"),
                monitoring_schedule=env.get("MONITORING_SCHEDULE") or None,
                public_labels=public_labels,
                compaction_schedule=env.get("COMPACTION_SCHEDULE") or None,
                client_rate_limit=_number(env, "CLIENT_RATE_LIMIT"),
                client_write_rate_limit=_number(env, "CLIENT_WRITE_RATE_LIMIT"),
                behind_proxy=behind_proxy == "yes",
                admin_key_cache_seconds=_number(env, "ADMIN_KEY_CACHE_SECONDS"),
                iam_enforced=enforcement == "enforce",
                iam_usage=Path(env["LOCAL_IAM_USAGE"]).resolve() if env.get("LOCAL_IAM_USAGE") else None,
                template=Path(env.get("LOCAL_TEMPLATE") or ROOT / "template.yaml").resolve(),
                cold_start_seconds=float(env.get("LOCAL_COLD_START_SECONDS") or 0),
                idle_seconds=float(env.get("LOCAL_IDLE_SECONDS") or 600),
                training_quota=training_quota(env.get("LOCAL_TRAINING_QUOTA", "")),
                training_throttle=int(env.get("LOCAL_TRAINING_THROTTLE") or 0),
            )
        except ValueError as error:
            raise StackError(
                "PORT, MOTO_PORT, MODEL_PORT, LOCAL_CONCURRENCY, RETRAIN_THRESHOLD, RETRAIN_MIN_INTERVAL_MINUTES, "
                "RETRAIN_MAX_PER_DAY, CLIENT_RATE_LIMIT, CLIENT_WRITE_RATE_LIMIT, LOCAL_COLD_START_SECONDS, "
                "LOCAL_IDLE_SECONDS, LOCAL_TRAINING_QUOTA and "
                f"LOCAL_TRAINING_THROTTLE must be numbers: {error}"
            ) from error
        if settings.cold_start_seconds < 0 or settings.idle_seconds <= 0:
            raise StackError(
                "LOCAL_COLD_START_SECONDS must be 0 or more and LOCAL_IDLE_SECONDS more than 0, not "
                f"{settings.cold_start_seconds} and {settings.idle_seconds}"
            )
        for name, value, least in (
            ("RETRAIN_THRESHOLD", settings.retrain_threshold, 1),
            ("RETRAIN_MIN_INTERVAL_MINUTES", settings.retrain_min_interval_minutes, 0),
            ("RETRAIN_MAX_PER_DAY", settings.retrain_max_per_day, 1),
            ("CLIENT_RATE_LIMIT", settings.client_rate_limit, 0),
            ("CLIENT_WRITE_RATE_LIMIT", settings.client_write_rate_limit, 0),
            ("LOCAL_TRAINING_THROTTLE", settings.training_throttle, 0),
            *(("LOCAL_TRAINING_QUOTA", quota, 0) for quota in settings.training_quota.values()),
        ):
            if value is not None and value < least:
                raise StackError(f"{name} must be {least} or more, not {value}")
        return settings

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    @property
    def state_file(self) -> Path:
        return self.data_dir / STATE_FILE

    @property
    def iam_usage_file(self) -> Path:
        return self.iam_usage or self.data_dir / "iam-usage.jsonl"


def _number(env: dict[str, str], name: str) -> int | None:
    return int(env[name]) if env.get(name) else None


def training_quota(value: str) -> dict[str, int]:
    """``LOCAL_TRAINING_QUOTA``: ``2`` (every instance type), ``ml.m5.large=1,ml.g5.xlarge=0`` (those
    types), or both (``1,ml.g5.xlarge=0``); empty for no quota. Raises ValueError on anything else."""
    quotas = {}
    for entry in filter(None, (part.strip() for part in value.split(","))):
        instance_type, _, instances = entry.rpartition("=")
        quotas[instance_type.strip() or ANY_INSTANCE_TYPE] = int(instances)
    return quotas


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


def parameter_overrides(settings: Settings) -> dict[str, str]:
    """The template's parameters as the local stack sets them: the backend, a model image (so the
    model resources exist), deployment checks every second, a refused training job tried again after
    2 s (doubling), and the retraining settings, the public labels policy and the limits per client
    when given."""
    overrides = {
        "InferenceBackend": settings.backend,
        "ModelImageUri": LOCAL_IMAGE,
        "DeployPollSeconds": "1",
        "TrainingRetrySeconds": str(LOCAL_TRAINING_RETRY_SECONDS),
    }
    for parameter, value in (
        ("RetrainThreshold", settings.retrain_threshold),
        ("RetrainMinIntervalMinutes", settings.retrain_min_interval_minutes),
        ("RetrainMaxPerDay", settings.retrain_max_per_day),
        ("MonitoringSchedule", settings.monitoring_schedule),
        ("PublicLabels", settings.public_labels),
        ("FeedbackCompactionSchedule", settings.compaction_schedule),
        ("ClientRateLimit", settings.client_rate_limit),
        ("ClientWriteRateLimit", settings.client_write_rate_limit),
        ("AdminKeyCacheSeconds", settings.admin_key_cache_seconds),
    ):
        if value is not None:
            overrides[parameter] = str(value)
    return overrides
