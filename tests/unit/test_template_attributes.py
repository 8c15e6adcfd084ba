"""Every ``!GetAtt X.Attr`` and ``${X.Attr}`` in template.yaml names an attribute that X's resource type
returns, as cfn-lint's copy of the CloudFormation resource schemas lists them. CloudFormation refuses
any other at deploy time (``Template error: resource X does not support attribute type Attr``), and the
local stack's resolver would not notice: it reads names, not schemas."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from sentiment_template.reader import load
from tests.conftest import ROOT

# What SAM turns each serverless type into; its attributes are those of the resource it becomes.
SERVERLESS_TYPES = {
    "AWS::Serverless::Function": "AWS::Lambda::Function",
    "AWS::Serverless::StateMachine": "AWS::StepFunctions::StateMachine",
    "AWS::Serverless::LayerVersion": "AWS::Lambda::LayerVersion",
    "AWS::Serverless::HttpApi": "AWS::ApiGatewayV2::Api",
}
_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9]+)\.([A-Za-z0-9.]+)\}")


def attribute_references(value: Any, where: str = "") -> Iterator[tuple[str, str, str]]:
    """``(logical id, attribute, where)`` for every GetAtt and every ``${X.Attr}`` inside a Sub."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from attribute_references(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Fn::GetAtt":
                logical_id, attribute = item if isinstance(item, list) else str(item).split(".", 1)
                yield str(logical_id), str(attribute), where
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                names = set() if isinstance(item, str) else set(item[1])
                for match in _SUBSTITUTION.finditer(text):
                    if match.group(1) not in names:
                        yield match.group(1), match.group(2), where
                if not isinstance(item, str):
                    yield from attribute_references(item[1], f"{where}.Fn::Sub")
            else:
                yield from attribute_references(item, f"{where}.{key}")


def unknown_attributes(document: dict[str, Any]) -> list[str]:
    resources = document["Resources"]
    problems = []
    for logical_id, attribute, where in attribute_references(document):
        if logical_id not in resources:
            problems.append(f"{where}: {logical_id} is not a resource")
            continue
        resource_type = resources[logical_id]["Type"]
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(
            "us-east-1", SERVERLESS_TYPES.get(resource_type, resource_type)
        )
        if attribute not in schema.get_atts:
            problems.append(
                f"{where}: {logical_id} ({resource_type}) has no attribute {attribute}; "
                f"it has {', '.join(sorted(schema.get_atts))}"
            )
    return problems


def test_every_attribute_the_template_reads_exists_on_its_resource_type() -> None:
    assert unknown_attributes(load(ROOT / "template.yaml")) == []


@pytest.mark.parametrize(
    ("snippet", "says"),
    [
        (
            {"Fn::Sub": "http://model.${Namespace.Name}:8080"},
            "Namespace (AWS::ServiceDiscovery::PrivateDnsNamespace) has no attribute Name",
        ),
        ({"Fn::GetAtt": ["Namespace", "Name"]}, "has no attribute Name"),
        ({"Fn::GetAtt": "Missing.Arn"}, "Missing is not a resource"),
    ],
)
def test_an_attribute_the_type_does_not_return_is_found(snippet: dict[str, Any], says: str) -> None:
    document = {
        "Resources": {
            "Namespace": {"Type": "AWS::ServiceDiscovery::PrivateDnsNamespace", "Properties": {"Value": snippet}},
        }
    }
    (problem,) = unknown_attributes(document)
    assert says in problem


def test_the_check_reads_serverless_types_as_what_sam_makes_of_them() -> None:
    document = {
        "Resources": {
            "Machine": {"Type": "AWS::Serverless::StateMachine"},
            "Fn": {"Type": "AWS::Serverless::Function"},
            "User": {
                "Properties": {"A": {"Fn::GetAtt": ["Machine", "Name"]}, "B": {"Fn::Sub": "${Fn.Arn}"}},
                "Type": "AWS::SNS::Topic",
            },
            "Bad": {"Properties": {"C": {"Fn::GetAtt": ["Fn", "Name"]}}, "Type": "AWS::SNS::Topic"},
        }
    }
    (problem,) = unknown_attributes(document)
    assert "Fn (AWS::Serverless::Function) has no attribute Name" in problem
