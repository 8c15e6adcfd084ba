"""Evaluate a candidate: read what training measured, decide, register it.

The training job scores the candidate *and the champion* on the same golden split and the same
feedback hold-out (``metadata.json``: ``metrics`` and ``champion_metrics``), and compares the two
where the run's new labels touch (``sentiment_model.neighbours``): on those texts' nearest labelled
neighbours (``neighbour_flips`` of ``neighbours_champion_agreed``) and on the texts themselves against
what people said of their neighbours (``touched_flips`` of ``touched_agreed``). The gate decides one
of three things:

- **rejected**: a golden metric below the floor, or worse beyond the tolerance than the champion's or
  the best any champion has had (see :func:`lineage_best`), or the feedback hold-out worse than the
  champion's beyond the tolerance *and* beyond chance (see :func:`chance_of_losing`: a hold-out of a
  few dozen labels moves by a whole text at a time);
- **held** for a person: otherwise fine, but either share is above its limit (:class:`TouchLimits`).
  Aggregate figures cannot see labels that flip one phrase, and the hold-out is drawn from those same
  labels; the texts around them can. An admin who finds the labels right promotes it by hand;
- **promoted** otherwise.
"""

from __future__ import annotations

import io
import json
import math
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline_function.errors import CandidateArtifactError
from pipeline_function.logic.labels import sha256
from pipeline_function.ports import DataStore
from pipeline_function.steps import EvaluateInput, Evaluation
from sentiment_common.artifacts import ArtifactReadError, model_file_sha256
from sentiment_common.observability import logger
from sentiment_common.ports import ModelRegistry, RunLedger
from sentiment_common.records import utc_now
from sentiment_common.registry import Decision, Metrics, ModelRecord, ModelStatus, model_card, model_kind

GOLDEN_METRICS = ("reviews_accuracy", "tweets_macro_f1")
HOLDOUT_METRIC = "feedback_holdout_accuracy"
COMPARED_METRICS = (*GOLDEN_METRICS, HOLDOUT_METRIC)
# A drop on the feedback hold-out is refused when chance alone would give it less often than this.
HOLDOUT_SIGNIFICANCE = 0.05
MAX_METADATA_BYTES = 5 * 1024 * 1024
STATUS_OF = {
    Decision.PROMOTED: ModelStatus.CANDIDATE,
    Decision.HELD: ModelStatus.HELD,
    Decision.REJECTED: ModelStatus.REJECTED,
}


@dataclass(frozen=True)
class TouchLimits:
    """How many answers near the new labels a candidate may change before it is held for a person."""

    neighbours: float  # share of the nearest labelled texts the champion answered as people did
    touched: float  # share of the touched texts the champion answered as their neighbours' people did


def lineage_best(models: Iterable[ModelRecord]) -> Metrics:
    """The best golden figures any champion so far recorded (every model ever promoted, the first one
    included). Comparing with these rather than with the current champion alone bounds the loss over
    many runs by one tolerance: each run may lose a little against the run before, never against the
    best the model has been."""
    best: Metrics = {}
    for model in models:
        if model.promoted_at is None:
            continue
        for name in GOLDEN_METRICS:
            value = model.metrics.get(name)
            if value is not None and value > (best.get(name) or 0.0):
                best[name] = value
    return best


def _neighbour_reasons(candidate: Metrics, limits: TouchLimits) -> tuple[bool, list[str]]:
    """Whether the candidate answers too many texts near its new labels otherwise than the champion
    and people did, and why, count by count (a count training did not record is not judged)."""
    held, reasons = False, []
    counts = (
        (
            "neighbour_flips",
            "neighbours_champion_agreed",
            "neighbour_flip_share",
            limits.neighbours,
            "nearest labelled texts the champion answered as people did",
        ),
        (
            "touched_flips",
            "touched_agreed",
            "touched_flip_share",
            limits.touched,
            "texts the new labels are about, which the champion answered as people answered their nearest "
            "labelled texts,",
        ),
    )
    for flips_key, agreed_key, share_key, limit, what in counts:
        flips, agreed, share = candidate.get(flips_key), candidate.get(agreed_key), candidate.get(share_key)
        if flips is None or agreed is None or share is None:
            continue
        beyond = share > limit
        held = held or beyond
        where = "above" if beyond else "within"
        reasons.append(
            f"{int(flips)} of {int(agreed)} {what} are now answered otherwise, {where} the limit {limit:.0%}"
        )
    return held, reasons


def _floor_reasons(candidate: Metrics, floor: float) -> list[str]:
    """Why the golden figures alone refuse the candidate (none: they do not)."""
    reasons = []
    for name in GOLDEN_METRICS:
        value = candidate.get(name)
        if value is None:
            reasons.append(f"{name} was not measured")
        elif value < floor:
            reasons.append(f"{name} {value:.4f} is below the floor {floor:.2f}")
    return reasons


def chance_of_losing(lost: int, gained: int) -> float:
    """McNemar's exact test, one-sided: of the hold-out texts the candidate and the champion answer
    differently, the candidate got ``lost`` wrong that the champion got right and ``gained`` the other
    way; this is the chance of losing at least ``lost`` of those ``lost + gained`` texts if the two were
    equally good (each such text a fair coin)."""
    texts = lost + gained
    return sum(math.comb(texts, k) for k in range(lost, texts + 1)) / (1 << texts)


def _holdout_within_chance(candidate: Metrics, value: float, now: float) -> str | None:
    """Why a hold-out drop beyond the tolerance is not refused (None: it is): the texts the two models
    answer differently do not show the candidate worse beyond chance. A training job that did not
    record the paired counts is judged by the tolerance alone."""
    lost, gained, rows = (candidate.get(key) for key in ("holdout_lost", "holdout_gained", "holdout_rows"))
    if lost is None or gained is None or rows is None:
        return None
    chance = chance_of_losing(int(lost), int(gained))
    if chance < HOLDOUT_SIGNIFICANCE:
        return None
    return (
        f"{HOLDOUT_METRIC} {value:.4f} against the champion's {now:.4f}: on {int(rows)} texts the candidate "
        f"got {int(lost)} wrong that the champion got right and {int(gained)} the other way, which chance "
        f"gives {chance:.0%} of the time (a drop is refused below {HOLDOUT_SIGNIFICANCE:.0%})"
    )


def _comparison_reasons(
    candidate: Metrics, champion: Metrics | None, best: Metrics, tolerance: float
) -> tuple[bool, list[str]]:
    """The candidate against the champion (measured by the same job) and against the lineage's best:
    whether it is worse beyond the tolerance, and the comparison metric by metric."""
    worse, reasons = False, []
    for name in COMPARED_METRICS:
        value, now = candidate.get(name), (champion or {}).get(name)
        if value is None or now is None:
            continue
        if value < now - tolerance:
            if name == HOLDOUT_METRIC and (noise := _holdout_within_chance(candidate, value, now)):
                reasons.append(noise)
                continue
            worse = True
            reasons.append(
                f"{name} {value:.4f} is {now - value:.4f} below the champion's {now:.4f} (tolerance {tolerance})"
            )
            continue
        reasons.append(f"{name} {value:.4f} against the champion's {now:.4f}")
        highest = best.get(name)
        if highest is not None and highest > now and value < highest - tolerance:
            worse = True
            reasons.append(
                f"{name} {value:.4f} is {highest - value:.4f} below {highest:.4f}, the best a champion has had "
                f"(tolerance {tolerance}: repeated runs may not wear the model down)"
            )
    if champion is None:
        reasons.append("no champion to compare with")
    return worse, reasons


def gate(
    candidate: Metrics,
    champion: Metrics | None,
    tolerance: float,
    floor: float,
    *,
    best: Metrics | None = None,
    touch: TouchLimits | None = None,
) -> tuple[Decision, list[str]]:
    """Promote, hold or reject, and why, metric by metric. ``best``: the lineage's best golden figures;
    ``touch``: the shares of answers near the new labels a candidate may change (None: not checked)."""
    below_floor = _floor_reasons(candidate, floor)
    worse, compared = _comparison_reasons(candidate, champion, best or {}, tolerance)
    held, touching = _neighbour_reasons(candidate, touch) if touch is not None else (False, [])
    reasons = [*below_floor, *compared, *touching]
    if below_floor or worse:
        return Decision.REJECTED, reasons
    if held:
        return Decision.HELD, reasons
    return Decision.PROMOTED, reasons


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
    models: ModelRegistry,
    runs: RunLedger,
    store: DataStore,
    *,
    tolerance: float,
    floor: float,
    touch: TouchLimits,
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
    version = request.candidate_version
    decision, reasons = gate(
        metrics,
        champion_metrics,
        tolerance,
        floor,
        best=lineage_best(models.list_models()),
        touch=touch,
    )
    if decision is Decision.HELD:
        reasons.append(
            f"held for review; promote it by hand with POST /models/{version}/promote if the labels are right"
        )

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
            status=STATUS_OF[decision],
            metrics=metrics,
            champion_metrics=champion_metrics,
            reasons=reasons,
            dataset=metadata.get("dataset", {}),
            baseline=metadata.get("baseline"),
            card=model_card(metadata),
            created_at=datetime.fromisoformat(metadata["created_at"]) if "created_at" in metadata else utc_now(),
            training_run=request.run_id,
            model_data_url=store.uri(key),
            sha256=digest,
            model_sha256=model_digest,
        )
    )
    promote = decision is Decision.PROMOTED
    runs.add_step(request.run_id, "evaluate", {"promote": promote, "decision": decision.value, "reasons": reasons})
    logger.info("candidate evaluated", extra={"run_id": request.run_id, "version": version, "decision": decision})
    return Evaluation(
        promote=promote,
        held=decision is Decision.HELD,
        version=version,
        reasons=reasons,
        metrics=metrics,
        champion_metrics=champion_metrics,
        model_data_url=store.uri(key),
        sha256=digest,
    )
