"""The model registry as the API shows it, and promotion by hand (a rollback is a run too)."""

from __future__ import annotations

from api_function.services import Services
from sentiment_common.errors import ConflictError
from sentiment_common.observability import logger
from sentiment_common.registry import Action, ModelRecord, RunRequest, TrainingRun, Trigger
from sentiment_common.runs import start_run


def list_models(services: Services) -> tuple[str | None, list[ModelRecord]]:
    champion = services.models.champion()
    return (champion.version if champion else None), services.models.list_models()


def get_model(version: str, services: Services) -> ModelRecord:
    return services.models.get_model(version)


def promote(version: str, services: Services) -> TrainingRun:
    """Serve a registered version through the state machine's deploy steps, recorded as a run."""
    model = services.models.get_model(version)
    champion = services.models.champion()
    if champion is not None and champion.version == model.version:
        raise ConflictError(f"{version} is already the champion")
    request = RunRequest(
        action=Action.PROMOTE,
        trigger=Trigger.ROLLBACK,
        version=model.version,
        started_by_request=logger.get_correlation_id(),
    )
    return start_run(services.pipeline, services.runs, services.workflow, request)
