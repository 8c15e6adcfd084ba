"""Serve a registered model, then watch until it answers.

- SageMaker: a new model and endpoint configuration (same variant settings), ``UpdateEndpoint``;
  SageMaker swaps instances with no downtime and rolls back by itself if the new ones fail.
- ECS: the service's champion pointer (``models/champion.json``) names the model; every task
  reloads it within its poll interval, no restart.

The registry's champion changes only after the new model answers (the RecordRun step), so a
deployment that fails leaves it, and what is served, as they were.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pipeline_function.errors import DeploymentFailedError, NothingToDeployError
from pipeline_function.logic.labels import sha256
from pipeline_function.ports import DataStore, ModelEndpoint, ModelRelease
from pipeline_function.settings import DeploySettings
from pipeline_function.steps import DeployInput, Deployment
from sentiment_common.artifacts import ArtifactReadError, model_file_sha256
from sentiment_common.errors import NotFoundError
from sentiment_common.observability import logger
from sentiment_common.ports import ModelRegistry, RunLedger
from sentiment_common.records import utc_now
from sentiment_common.registry import Action, Champion, ModelRecord, RunStatus, TrainingRun, Trigger
from sentiment_common.settings import InferenceBackend

if TYPE_CHECKING:  # the model's client as a type: the client itself is the handler's to build
    from sentiment_common.inference import ModelClient

FAILED_STATES = frozenset({"Failed", "RollingBack", "UpdateRollbackFailed", "OutOfService", "Deleting"})


def start(
    request: DeployInput,
    models: ModelRegistry,
    runs: RunLedger,
    store: DataStore,
    *,
    endpoint: ModelEndpoint | None,
    settings: DeploySettings,
) -> Deployment:
    if not settings.deployed:
        raise NothingToDeployError("no model endpoint or service is deployed; deploy the stack with ModelImageUri")
    model = models.get_model(request.version)
    run = _run(runs, request)
    config_name = None
    if settings.inference_backend is InferenceBackend.SAGEMAKER:
        if endpoint is None:
            raise NothingToDeployError("no SageMaker endpoint is configured")
        config_name = endpoint.deploy(
            ModelRelease(
                version=model.version,
                run_id=request.run_id,
                image=settings.model_image_uri,
                role_arn=settings.sagemaker_role_arn,
                model_data_url=model.model_data_url,
                model_sha256=model.model_sha256 or _model_file_sha256(model, store),
                network_isolation=settings.sagemaker_network_isolation,
            )
        )
    else:
        store.point_at(
            Champion(
                version=model.version,
                model_data_url=model.model_data_url,
                sha256=model.sha256,
                model_sha256=model.model_sha256,
                promoted_at=utc_now(),
            )
        )
    runs.add_step(request.run_id, "deploy", {"version": model.version, "backend": settings.inference_backend})
    logger.info("deployment started", extra={"run_id": request.run_id, "version": model.version})
    reasons = ["promoted by hand"] if run.trigger is Trigger.ROLLBACK else model.reasons
    return Deployment(
        run_id=request.run_id,
        version=model.version,
        backend=settings.inference_backend.value,
        poll_seconds=settings.deploy_poll_seconds,
        max_checks=max(1, math.ceil(settings.deploy_timeout_seconds / settings.deploy_poll_seconds)),
        endpoint_config_name=config_name,
        metrics=model.metrics,
        reasons=reasons,
    )


def _model_file_sha256(model: ModelRecord, store: DataStore) -> str:
    """For a model registered before the registry kept its model.joblib's hash: read from its archive,
    once the archive matches the SHA-256 the registry does keep, so nothing unchecked reaches the
    container."""
    archive = store.read(store.key_of(model.model_data_url))
    if sha256(archive) != model.sha256.lower():
        raise DeploymentFailedError(
            f"{model.model_data_url} does not match the SHA-256 the registry records for model {model.version}"
        )
    try:
        return model_file_sha256(archive)
    except ArtifactReadError as error:
        raise DeploymentFailedError(f"model {model.version}: {error}") from error


def _run(runs: RunLedger, request: DeployInput) -> TrainingRun:
    """The run's record; a promotion started from the console or CLI has none yet."""
    try:
        return runs.get_run(request.run_id)
    except NotFoundError:
        run = TrainingRun(
            run_id=request.run_id,
            status=RunStatus.RUNNING,
            trigger=Trigger.ROLLBACK,
            action=Action.PROMOTE,
            candidate_version=request.version,
            started_at=utc_now(),
        )
        runs.create_run(run)
        return run


def check(deployment: Deployment, endpoint: ModelEndpoint | None, model: ModelClient) -> Deployment:
    checks = deployment.checks + 1
    waiting_for = "the service"
    if endpoint is not None:
        status = endpoint.describe()
        if status.status in FAILED_STATES:
            raise DeploymentFailedError(f"endpoint {endpoint.name} is {status.status}: {status.failure_reason or ''}")
        if status.status == "InService" and status.config_name != deployment.endpoint_config_name:
            # An update that failed leaves the endpoint in service on its previous configuration.
            raise DeploymentFailedError(
                f"endpoint {endpoint.name} stayed on {status.config_name}: {status.failure_reason or 'update failed'}"
            )
        waiting_for = f"endpoint {endpoint.name} ({status.status})"
    health = model.health()
    ready = health.reachable and health.model_version == deployment.version
    if not ready and checks >= deployment.max_checks:
        raise DeploymentFailedError(
            f"{waiting_for} still answers with {health.model_version or health.reason} "
            f"after {checks} checks, not {deployment.version}"
        )
    return deployment.model_copy(update={"checks": checks, "ready": ready})
