"""CheckDeployment against the ECS model service through the real HTTP client: the version the service's
``/ping`` names, and a service that does not answer. The step's other outcomes are tested on a fake
model (tests/unit/test_pipeline_steps.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pipeline_function.errors import DeploymentFailedError
from pipeline_function.logic.rollout import check
from pipeline_function.settings import DeploySettings
from pipeline_function.steps import Deployment
from sentiment_common.inference import HttpModel
from tests.integration.json_service import JsonService

DEPLOYING_V2 = Deployment(
    run_id="run-000001", version="v2", backend="ecs", poll_seconds=20, max_checks=3, metrics={}, reasons=[]
)


class FakeModelService(JsonService):
    """The model service's ``/ping``, answering with whichever version it currently serves."""

    def __init__(self, version: str) -> None:
        self.version = version
        super().__init__(self._answer)

    def _answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        del method, headers
        return (200 if path == "/ping" else 404), {"status": "ok", "model_version": self.version}


@pytest.fixture
def service() -> Iterator[FakeModelService]:
    server = FakeModelService("v1")
    yield server
    server.close()


@pytest.fixture
def client(service: FakeModelService) -> HttpModel:
    return HttpModel(
        DeploySettings(registry_table="registry", data_bucket="data", inference_backend="ecs", model_url=service.url)
    )


def test_the_deployment_is_ready_once_the_service_answers_with_the_new_version(
    service: FakeModelService, client: HttpModel
) -> None:
    still_old = check(DEPLOYING_V2, None, client)
    service.version = "v2"
    ready = check(still_old, None, client)

    assert (still_old.ready, still_old.checks) == (False, 1)
    assert (ready.ready, ready.checks) == (True, 2)


def test_a_service_that_does_not_answer_is_not_ready_and_the_failure_says_why(
    service: FakeModelService, client: HttpModel
) -> None:
    service.close()

    deployment = check(check(DEPLOYING_V2, None, client), None, client)
    assert (deployment.ready, deployment.checks) == (False, 2)
    with pytest.raises(DeploymentFailedError, match=r"still answers with the model endpoint is unreachable") as failure:
        check(deployment, None, client)
    assert "not v2" in str(failure.value)
