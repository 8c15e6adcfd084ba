"""The model behind the template's backend, as AWS serves it: a SageMaker endpoint (``BACKEND=sagemaker``)
or an ECS service (``BACKEND=ecs``), both the one local model server (:mod:`sentiment_local.sagemaker.model_server`).

- SageMaker: the template's model, endpoint configuration and endpoint exist in moto; the model the
  endpoint serves is downloaded with the model's execution role into ``<data>/endpoints/<endpoint>/``
  and named by ``<data>/endpoints/<endpoint>.json``, which the model server follows. ``UpdateEndpoint``
  (plugged into moto by :mod:`sentiment_local.moto.sagemaker`, which also answers ``InvokeEndpoint``) comes
  here: the update ends once the model server serves the new model. A serverless endpoint scales to
  zero: with ``LOCAL_COLD_START_SECONDS`` set, its first invocation after ``LOCAL_IDLE_SECONDS`` without
  one waits that long for an instance (:class:`ColdStarts`), as on AWS.
- ECS: the model server follows the registry's pointer in the bucket, read with the task role's
  credentials, as the service's tasks do.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment_common.artifacts import MODEL_SHA256_ENV
from sentiment_common.registry import Champion
from sentiment_deploy.bootstrap import CHAMPION_KEY, read_archive_metadata, read_s3_object
from sentiment_local.environment import Settings, StackError
from sentiment_local.moto.server import MotoServer
from sentiment_local.resources import create_sagemaker_endpoint
from sentiment_local.sagemaker.model_server import ModelServer
from sentiment_template import policies
from sentiment_template.reader import REGION, ROOT, Template

log = logging.getLogger("sentiment_local")

ENDPOINT_UPDATE_TIMEOUT_S = 120
CHAMPION_POLL_SECONDS = "1"  # how often the model server re-reads the champion pointer


class ColdStarts:
    """A serverless endpoint's instances, as its callers meet them. After ``idle_s`` seconds without an
    invocation it has none (SageMaker scales it to zero), so the next invocation waits ``cold_start_s``
    seconds for one to start (the container, the model's download), and so does every invocation that
    arrives meanwhile; the start goes on when a caller stops waiting. It starts with none, as after idle.
    """

    def __init__(self, cold_start_s: float, idle_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.cold_start_s = cold_start_s
        self.idle_s = idle_s
        self._clock = clock
        self._lock = threading.Lock()
        self._ready_at: float | None = None  # when the instance started, or will have; None: scaled to zero
        self._last_call = 0.0  # when the last invocation reached the instance

    def wait(self) -> float:
        """Seconds this invocation waits before the container sees it."""
        with self._lock:
            now = self._clock()
            if self._ready_at is None or (self._ready_at <= now and now - self._last_call > self.idle_s):
                self._ready_at = now + self.cold_start_s
                log.info("serverless endpoint: no instance after idle; starting one (%.1f s)", self.cold_start_s)
            wait = max(0.0, self._ready_at - now)
            self._last_call = now + wait
            return wait


def write_pointer(path: Path, champion: Champion) -> None:
    """A champion pointer file, replaced whole: the model server may read it at any moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".json.tmp")
    scratch.write_bytes(champion.pointer())
    scratch.replace(path)


def read_pointer(path: Path) -> Champion:
    return Champion.model_validate_json(path.read_text())


@dataclass
class Endpoint:
    settings: Settings
    template: Template
    moto: MotoServer
    model_server: ModelServer
    stopping: threading.Event
    name: str | None = None  # the SageMaker endpoint, on that backend
    champion: Champion | None = None  # the model the endpoint or service was last given
    served: Champion | None = None  # what the model server loads (on SageMaker, the endpoint's own copy)
    cold_starts: ColdStarts | None = field(default=None, init=False)  # a serverless endpoint's, when enabled

    @property
    def serving_role(self) -> str:
        """The role the model container runs with: SageMaker's execution role, or the ECS task role."""
        return self.template.role_arn("ModelTaskRole" if self.settings.backend == "ecs" else "SageMakerExecutionRole")

    @property
    def pointer_file(self) -> Path:
        """On the SageMaker backend, the model the endpoint serves; rewritten by an endpoint update."""
        return self.settings.data_dir / "endpoints" / f"{self.name}.json"

    @property
    def models_dir(self) -> Path:
        """Where SageMaker keeps the models it downloaded for the endpoint."""
        return self.settings.data_dir / "endpoints" / str(self.name)

    def create(self, champion: Champion) -> Champion:
        """The backend serving ``champion``; returns what the model server is to load. On SageMaker the
        template's endpoint is created for it, and the model server loads the endpoint's copy."""
        self.champion = champion
        if self.settings.backend != "sagemaker":
            return champion
        self.template.overrides = {
            **self.template.overrides,
            "ModelDataUrl": champion.model_data_url,
            "ModelSha256": champion.sha256,
            "ModelJoblibSha256": champion.model_sha256 or "",
        }
        sagemaker = self.moto.client("sagemaker")
        self.name = create_sagemaker_endpoint(self.template, sagemaker, self.moto.client("application-autoscaling"))
        variants = sagemaker.describe_endpoint(EndpointName=self.name)["ProductionVariants"]
        if self.settings.cold_start_seconds > 0 and any("CurrentServerlessConfig" in each for each in variants):
            # Only a serverless endpoint scales to zero; a real-time one keeps its instances warm.
            self.cold_starts = ColdStarts(self.settings.cold_start_seconds, self.settings.idle_seconds)
        served = self.stage(champion.model_data_url, container_environment(sagemaker, str(self.name)))
        write_pointer(self.pointer_file, served)
        return served

    def instance_wait(self, endpoint_name: str) -> float:
        """Seconds an invocation of ``endpoint_name`` waits before its container sees it: a serverless
        endpoint's cold start after idle, when ``LOCAL_COLD_START_SECONDS`` is set; else none."""
        if self.cold_starts is None or endpoint_name != self.name:
            return 0.0
        return self.cold_starts.wait()

    def environment(self, champion: Champion) -> dict[str, str]:
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
            MODEL_SHA256_ENV: champion.model_sha256 or "",
            "CHAMPION_POLL_SECONDS": CHAMPION_POLL_SECONDS,
        }
        if self.settings.backend == "sagemaker":
            return {**common, "CHAMPION_URI": str(self.pointer_file)}
        return {
            **common,
            "CHAMPION_URI": f"s3://{self.template.physical_name('DataBucket')}/{CHAMPION_KEY}",
            "AWS_ENDPOINT_URL": self.moto.url,
            "AWS_DEFAULT_REGION": REGION,
            **policies.credentials_for(self.serving_role),
        }

    def stage(self, model_data_url: str, environment: dict[str, str]) -> Champion:
        """What SageMaker does before a container serves a model: download its ``model.tar.gz`` with the
        model's execution role and hash it. The container reads the copy (its ``/opt/ml/model``) and is
        given the model's ``environment``: what it checks ``model.joblib`` against comes from there,
        as on AWS, never from the downloaded archive."""
        data = read_s3_object(self.moto.client("s3", self.serving_role), model_data_url)
        metadata = read_archive_metadata(data)
        digest = hashlib.sha256(data).hexdigest()
        readable = re.sub(r"[^A-Za-z0-9._-]", "-", str(metadata["version"]))  # a name, never a path
        local = self.models_dir / f"{readable}-{digest[:16]}.tar.gz"
        if not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            scratch = local.with_suffix(".tmp")
            scratch.write_bytes(data)
            scratch.replace(local)
        self.served = Champion(
            version=str(metadata["version"]),
            model_data_url=str(local),
            sha256=digest,
            model_sha256=environment.get(MODEL_SHA256_ENV) or None,
        )
        return self.served

    def on_update(self, endpoint_name: str, model_data_url: str, environment: dict[str, str]) -> None:
        """What a SageMaker endpoint update is here: the endpoint's pointer file names the new model
        (downloaded and hashed, as SageMaker does) with what the new model's container ``environment``
        says to check it against, and the update ends once the model server answers with its version.
        If the server refuses the model (as a new container failing its health checks makes SageMaker
        roll back), or does not serve it in time, the pointer names the previous model again."""
        if endpoint_name != self.name:
            raise StackError(f"the local stack serves one endpoint, {self.name}, not {endpoint_name}")
        previous = read_pointer(self.pointer_file)
        staged = self.stage(model_data_url, environment)
        write_pointer(self.pointer_file, staged)
        deadline = time.monotonic() + ENDPOINT_UPDATE_TIMEOUT_S
        refused: str | None = None
        while time.monotonic() < deadline and not self.stopping.is_set():
            version, refused = self.model_server.serving()
            if version == staged.version:
                self.champion = staged.model_copy(update={"model_data_url": model_data_url})
                log.info("endpoint %s serves model %s", endpoint_name, staged.version)
                return
            if refused and staged.model_data_url in refused:
                break
            time.sleep(0.5)
        write_pointer(self.pointer_file, previous)
        self.served = previous
        if refused and staged.model_data_url in refused:
            raise StackError(f"the model server refused model {staged.version}: {refused}")
        raise StackError(
            f"the model server did not serve model {staged.version} within {ENDPOINT_UPDATE_TIMEOUT_S} s; "
            f"see {self.model_server.log_file}"
        )


def container_environment(sagemaker: Any, endpoint_name: str) -> dict[str, str]:
    """The environment of the model container behind ``endpoint_name``'s current configuration."""
    config_name = sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    model = sagemaker.describe_model(ModelName=variants[0]["ModelName"])
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    return {str(key): str(value) for key, value in (container.get("Environment") or {}).items()}
