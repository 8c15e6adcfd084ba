"""Retraining runs: start one by hand, list and inspect them."""

from __future__ import annotations

from api_function.services import Services
from sentiment_common.observability import logger
from sentiment_common.registry import PipelineState, RunRequest, TrainingRun, Trigger
from sentiment_common.runs import start_run


def start_training(services: Services) -> TrainingRun:
    """A run on all feedback so far, whatever the count; :class:`ConflictError` while one is active."""
    pending = services.pipeline.state().pending_feedback
    request = RunRequest(trigger=Trigger.MANUAL, feedback_count=pending, started_by_request=logger.get_correlation_id())
    return start_run(services.pipeline, services.runs, services.workflow, request)


def list_runs(services: Services, limit: int, token: str | None) -> tuple[list[TrainingRun], str | None]:
    return services.runs.list_runs(limit, token)


def pipeline_state(services: Services) -> PipelineState:
    """The feedback waiting to be trained on, and why a due run is held back, if it is."""
    return services.pipeline.state()


def get_run(run_id: str, services: Services) -> TrainingRun:
    return services.runs.get_run(run_id)
