"""Moto and the template's tables, for running each contract suite against the boto3 adapter; the
registry's three stores as one fixture.

The tables are created from ``template.yaml``'s own definitions, so the adapter is held to the keys and
indexes that are deployed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Protocol, TypeVar

import boto3
import pytest
import yaml

from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_common.dal.pipeline_state import DynamoDbPipelineStateStore
from sentiment_common.dal.run_ledger import DynamoDbRunLedger
from sentiment_common.ports import ModelRegistry, PipelineStateStore, RunLedger
from sentiment_common.registry import HeldBack
from tests.conftest import ROOT
from tests.fakes.registry import FakeRegistry

ACCOUNT = "123456789012"
HELD_AT = datetime(2026, 11, 22, 11, 30, tzinfo=UTC)
HELD_BACK = HeldBack(reason="too soon after the last run", at=HELD_AT, until=HELD_AT + timedelta(minutes=30))

T = TypeVar("T")


class _TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (``!Ref``, ``!Sub``...) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_TemplateLoader.add_multi_constructor("!", _any_tag)


@cache
def template_resources() -> dict[str, Any]:
    text = (ROOT / "template.yaml").read_text()
    resources: dict[str, Any] = yaml.load(text, Loader=_TemplateLoader)["Resources"]  # noqa: S506 (a SafeLoader)
    return resources


def create_table(logical_id: str) -> str:
    """The table ``logical_id`` declares, under its logical id; returns its name."""
    properties = template_resources()[logical_id]["Properties"]
    request = {
        "TableName": logical_id,
        "BillingMode": properties["BillingMode"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
    }
    if "GlobalSecondaryIndexes" in properties:
        request["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    boto3.client("dynamodb").create_table(**request)
    return logical_id


def create_state_machine(name: str) -> str:
    """A state machine that waits, so an execution stays RUNNING; returns its ARN."""
    definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    arn: str = boto3.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}"
    )["stateMachineArn"]
    return arn


def implementation(request: pytest.FixtureRequest, fake: Callable[[], T], adapter: Callable[[], T]) -> T:
    """The fake, or the adapter on moto, as the parametrized fixture's ``request.param`` names."""
    if request.param == "fake":
        return fake()
    request.getfixturevalue("aws")
    return adapter()


class Registry(Protocol):
    models: ModelRegistry
    runs: RunLedger
    pipeline: PipelineStateStore


class DynamoRegistry:
    def __init__(self, table: str) -> None:
        self.models = DynamoDbModelRegistry(table)
        self.runs = DynamoDbRunLedger(table)
        self.pipeline = DynamoDbPipelineStateStore(table)


@pytest.fixture(params=["dynamodb", "fake"])
def registry(request: pytest.FixtureRequest) -> Registry:
    return implementation(request, FakeRegistry.empty, lambda: DynamoRegistry(create_table("RegistryTable")))
