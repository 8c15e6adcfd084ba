"""The model behind the template's backend, as AWS serves it: a SageMaker endpoint (``BACKEND=sagemaker``)
or an ECS service (``BACKEND=ecs``), both the one local model server (:mod:`sentiment_local.model_server`).

- SageMaker: the template's model, endpoint configuration and endpoint exist in moto; the model the
  endpoint serves is downloaded with the model's execution role into ``<data>/endpoints/<endpoint>/``
  and named by ``<data>/endpoints/<endpoint>.json``, which the model server follows. ``UpdateEndpoint``
  (plugged into moto by :mod:`sentiment_local.moto_gaps`, which also answers ``InvokeEndpoint``) comes
  here: the update ends once the model server serves the new model.
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
from dataclasses import dataclass
from pathlib import Path

from sentiment_deploy.bootstrap import CHAMPION_KEY, read_archive_metadata, read_s3_object

from sentiment_common.registry import Champion
from sentiment_local import iam
from sentiment_local.environment import Settings, StackError
from sentiment_local.model_server import ModelServer
from sentiment_local.moto_server import MotoServer
from sentiment_local.resources import create_sagemaker_endpoint
from sentiment_local.template import REGION, ROOT, Template

log = logging.getLogger("sentiment_local")

ENDPOINT_UPDATE_TIMEOUT_S = 120
CHAMPION_POLL_SECONDS = "1"  # how often the model server re-reads the champion pointer


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
        }
        self.name = create_sagemaker_endpoint(
            self.template, self.moto.client("sagemaker"), self.moto.client("application-autoscaling")
        )
        served = self.stage(champion.model_data_url)
        write_pointer(self.pointer_file, served)
        return served

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
            "CHAMPION_POLL_SECONDS": CHAMPION_POLL_SECONDS,
        }
        if self.settings.backend == "sagemaker":
            return {**common, "CHAMPION_URI": str(self.pointer_file)}
        return {
            **common,
            "CHAMPION_URI": f"s3://{self.template.physical_name('DataBucket')}/{CHAMPION_KEY}",
            "AWS_ENDPOINT_URL": self.moto.url,
            "AWS_DEFAULT_REGION": REGION,
            **iam.credentials_for(self.serving_role),
        }

    def stage(self, model_data_url: str) -> Champion:
        """What SageMaker does before a container serves a model: download its ``model.tar.gz`` with the
        model's execution role and hash it. The container reads the copy (its ``/opt/ml/model``)."""
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
        self.served = Champion(version=str(metadata["version"]), model_data_url=str(local), sha256=digest)
        return self.served

    def on_update(self, endpoint_name: str, model_data_url: str) -> None:
        """What a SageMaker endpoint update is here: the endpoint's pointer file names the new model
        (downloaded and hashed, as SageMaker does), and the update ends once the model server answers
        with its version. If it does not in time, the pointer names the previous model again."""
        if endpoint_name != self.name:
            raise StackError(f"the local stack serves one endpoint, {self.name}, not {endpoint_name}")
        previous = read_pointer(self.pointer_file)
        staged = self.stage(model_data_url)
        write_pointer(self.pointer_file, staged)
        deadline = time.monotonic() + ENDPOINT_UPDATE_TIMEOUT_S
        while time.monotonic() < deadline and not self.stopping.is_set():
            if self.model_server.served_version() == staged.version:
                self.champion = Champion(version=staged.version, model_data_url=model_data_url, sha256=staged.sha256)
                log.info("endpoint %s serves model %s", endpoint_name, staged.version)
                return
            time.sleep(0.5)
        write_pointer(self.pointer_file, previous)
        self.served = previous
        raise StackError(
            f"the model server did not serve model {staged.version} within {ENDPOINT_UPDATE_TIMEOUT_S} s; "
            f"see {self.model_server.log_file}"
        )
