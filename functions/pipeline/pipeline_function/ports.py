"""What the pipeline's logic needs from the outside besides the registry's stores (in
``sentiment_common.ports``): the data bucket and the model endpoint. Each has a boto3 adapter
(``adapters/``) and an in-memory fake, held to one contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sentiment_common.registry import Champion

CHAMPION_POINTER = "models/champion.json"
# How many reads the logic runs at once (feedback parts and objects); the S3 adapter keeps a connection for
# each, instead of botocore's default pool of 10 that would make the others wait and open throwaway ones.
PARALLEL_READS = 32


class DataStore(Protocol):
    """The data bucket: training data, feedback, run inputs, model artifacts and the champion pointer."""

    bucket: str

    def uri(self, key: str) -> str:
        """``s3://<bucket>/<key>``: how the training job and the registry name an object."""
        ...

    def key_of(self, uri: str) -> str:
        """The key of an ``s3://`` address in this bucket; ValueError for any other."""
        ...

    def keys(self, prefix: str) -> Iterator[str]:
        """Every object's key under ``prefix``, in order."""
        ...

    def folders(self, prefix: str) -> Iterator[str]:
        """The "folders" right under ``prefix`` (``feedback/dt=2026-11-22/``), in order."""
        ...

    def read(self, key: str) -> bytes: ...

    def read_if_exists(self, key: str) -> bytes | None: ...

    def write(self, key: str, body: bytes | bytearray, content_type: str) -> None: ...

    def copy(self, source_key: str, key: str) -> None: ...

    def point_at(self, champion: Champion) -> None:
        """The pointer the ECS service watches; it loads the model it names (hash checked)."""
        ...

    def pointer(self) -> dict[str, Any] | None:
        """What the pointer names now; None before any champion."""
        ...


@dataclass(frozen=True)
class EndpointStatus:
    status: str
    config_name: str
    failure_reason: str | None


@dataclass(frozen=True)
class ModelRelease:
    """A registered model as an endpoint serves it."""

    version: str
    run_id: str
    image: str
    role_arn: str
    model_data_url: str
    model_sha256: str
    network_isolation: bool


class ModelEndpoint(Protocol):
    """The SageMaker endpoint a deployment updates."""

    name: str

    def describe(self) -> EndpointStatus: ...

    def deploy(self, release: ModelRelease) -> str:
        """Serve the release under a new model and endpoint configuration, named for its version and run;
        returns the configuration's name. Safe to repeat."""
        ...
