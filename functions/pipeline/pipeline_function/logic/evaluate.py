"""Evaluate a candidate: read what training measured, decide, register it.

The training job scores the candidate *and the champion* on the same golden split and the same
feedback hold-out (``metadata.json``: ``metrics`` and ``champion_metrics``). The gate promotes only
a candidate that is above the floor on the golden metrics and not worse than the champion beyond
the tolerance on any compared metric: feedback that would make the model worse where it is known
to be right (poisoned, or just wrong) cannot get in.
"""

from __future__ import annotations

import io
import json
import tarfile
from datetime import datetime
from typing import Any

from pipeline_function.adapters.store import DataStore
from pipeline_function.errors import CandidateArtifactError
from pipeline_function.logic.prepare import sha256
from pipeline_function.steps import EvaluateInput, Evaluation
from sentiment_common.artifacts import ArtifactReadError, model_file_sha256
from sentiment_common.models import utc_now
from sentiment_common.observability import logger
from sentiment_common.ports import ModelRegistryPort, RunLedgerPort
from sentiment_common.registry import Metrics, ModelRecord, ModelStatus, model_kind

GOLDEN_METRICS = ("reviews_accuracy", "tweets_macro_f1")
COMPARED_METRICS = (*GOLDEN_METRICS, "feedback_holdout_accuracy")
MAX_METADATA_BYTES = 5 * 1024 * 1024


def gate(candidate: Metrics, champion: Metrics | None, tolerance: float, floor: float) -> tuple[bool, list[str]]:
    """Promote or not, and why, metric by metric."""
    reasons: list[str] = []
    promote = True
    for name in GOLDEN_METRICS:
        value = candidate.get(name)
        if value is None:
            promote = False
            reasons.append(f"{name} was not measured")
        elif value < floor:
            promote = False
            reasons.append(f"{name} {value:.4f} is below the floor {floor:.2f}")
    for name in COMPARED_METRICS:
        value, best = candidate.get(name), (champion or {}).get(name)
        if value is None or best is None:
            continue
        if value < best - tolerance:
            promote = False
            reasons.append(
                f"{name} {value:.4f} is {best - value:.4f} below the champion's {best:.4f} (tolerance {tolerance})"
            )
        else:
            reasons.append(f"{name} {value:.4f} against the champion's {best:.4f}")
    if champion is None:
        reasons.append("no champion to compare with")
    return promote, reasons


def read_metadata(archive: bytes) -> dict[str, Any]:
    """``metadata.json`` from a model.tar.gz, without unpickling anything."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            member = tar.getmember("metadata.json")
            if not member.isfile() or member.size > MAX_METADATA_BYTES:
                raise CandidateArtifactError("metadata.json in the candidate's archive is not a small regular file")
            handle = tar.extractfile(member)
            if handle is None:
                raise CandidateArtifactError("metadata.json in the candidate's archive cannot be read")
            metadata: dict[str, Any] = json.loads(handle.read())
            tar.getmember("model.joblib")
    except (tarfile.TarError, KeyError, ValueError) as error:
        raise CandidateArtifactError(
            f"the candidate's model.tar.gz is not a complete model artifact: {error}"
        ) from error
    return metadata


def evaluate(
    request: EvaluateInput,
    models: ModelRegistryPort,
    runs: RunLedgerPort,
    store: DataStore,
    *,
    tolerance: float,
    floor: float,
) -> Evaluation:
    archive = store.read(store.key_of(request.model_data_url))
    metadata = read_metadata(archive)
    if metadata.get("version") != request.candidate_version:
        raise CandidateArtifactError(
            f"the training job produced version {metadata.get('version')!r}, not {request.candidate_version!r}"
        )
    metrics: Metrics = metadata.get("metrics", {})
    champion_metrics: Metrics | None = metadata.get("champion_metrics")
    if champion_metrics is not None:
        champion_metrics = {key: value for key, value in champion_metrics.items() if key != "version"}
    promote, reasons = gate(metrics, champion_metrics, tolerance, floor)

    version = request.candidate_version
    digest = sha256(archive)
    try:
        model_digest = model_file_sha256(archive)
    except ArtifactReadError as error:
        raise CandidateArtifactError(
            f"the candidate's model.tar.gz is not a complete model artifact: {error}"
        ) from error
    key = f"models/{version}/model.tar.gz"
    store.write(key, archive, "application/gzip")
    store.write(f"models/{version}/metadata.json", json.dumps(metadata).encode(), "application/json")
    kind, encoder = model_kind(metadata)
    models.put_model(
        ModelRecord(
            version=version,
            kind=kind,
            encoder=encoder,
            status=ModelStatus.CANDIDATE if promote else ModelStatus.REJECTED,
            metrics=metrics,
            champion_metrics=champion_metrics,
            reasons=reasons,
            dataset=metadata.get("dataset", {}),
            baseline=metadata.get("baseline"),
            created_at=datetime.fromisoformat(metadata["created_at"]) if "created_at" in metadata else utc_now(),
            training_run=request.run_id,
            model_data_url=store.uri(key),
            sha256=digest,
            model_sha256=model_digest,
        )
    )
    runs.add_step(request.run_id, "evaluate", {"promote": promote, "reasons": reasons})
    logger.info("candidate evaluated", extra={"run_id": request.run_id, "version": version, "promote": promote})
    return Evaluation(
        promote=promote,
        version=version,
        reasons=reasons,
        metrics=metrics,
        champion_metrics=champion_metrics,
        model_data_url=store.uri(key),
        sha256=digest,
    )
