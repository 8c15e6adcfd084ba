"""The registry's stores twice: the DynamoDB adapters over moto (the template's table) and the fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

import pytest

from sentiment_common.dal.model_registry import ModelRegistry
from sentiment_common.dal.pipeline_state import PipelineStateStore
from sentiment_common.dal.run_ledger import RunLedger
from sentiment_common.ports import ModelRegistryPort, PipelineStatePort, RunLedgerPort
from sentiment_common.registry import HeldBack
from sentiment_local.template import Template
from tests.fakes.registry import FakeRegistry
from tests.integration.pipeline.conftest import aws  # noqa: F401  (a moto account with the template's tables)

HELD_AT = datetime(2026, 11, 22, 11, 30, tzinfo=UTC)
HELD_BACK = HeldBack(reason="too soon after the last run", at=HELD_AT, until=HELD_AT + timedelta(minutes=30))


class Registry(Protocol):
    models: ModelRegistryPort
    runs: RunLedgerPort
    pipeline: PipelineStatePort


class DynamoRegistry:
    def __init__(self, table: str) -> None:
        self.models = ModelRegistry(table)
        self.runs = RunLedger(table)
        self.pipeline = PipelineStateStore(table)


@pytest.fixture(params=["dynamodb", "fake"])
def registry(request: pytest.FixtureRequest) -> Registry:
    if request.param == "fake":
        return FakeRegistry.empty()
    template: Template = request.getfixturevalue("aws")
    return DynamoRegistry(template.physical_name("RegistryTable"))
