"""Rules AWS documents that this template could break, and that a deploy would only reveal on the way.

- Lambda keeps 100 of an account's concurrency unreserved, and new accounts have a limit of 10, so any
  ``ReservedConcurrentExecutions`` fails there (Lambda developer guide, "Configuring reserved concurrency").
- Serverless endpoints do not support network isolation (SageMaker developer guide, "Deploy models with
  Amazon SageMaker Serverless Inference", feature exclusions).
- CloudFront's origin access controls and response headers policies are named uniquely per account, not
  per region (CloudFront API reference: ``OriginAccessControlAlreadyExists``,
  ``ResponseHeadersPolicyAlreadyExists``).
- CloudFormation cannot delete an ECR repository that holds images unless ``EmptyOnDelete`` is set
  (``AWS::ECR::Repository``).
- SageMaker runs training and hosting containers as root; ECS can run the same image as another user.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from sentiment_local.resources import LimitExceeded, check_reserved_concurrency
from sentiment_template.reader import Template
from tests.conftest import ROOT


def template(**overrides: str) -> Template:
    return Template.read(ROOT / "template.yaml", overrides={"ModelImageUri": "image:1", **overrides})


def test_no_function_reserves_concurrency_that_a_new_account_does_not_have() -> None:
    document = template().document
    functions = {**document["Globals"]["Function"]}
    assert "ReservedConcurrentExecutions" not in functions
    reserved = {
        name: resource["Properties"]["ReservedConcurrentExecutions"]
        for name, resource in document["Resources"].items()
        if "ReservedConcurrentExecutions" in resource.get("Properties", {})
    }
    assert reserved == {}


@pytest.mark.parametrize(("endpoint_type", "isolated"), [("serverless", False), ("realtime", True)])
def test_the_model_is_isolated_only_where_the_endpoint_type_supports_it(endpoint_type: str, isolated: bool) -> None:
    sagemaker = template(InferenceBackend="sagemaker", SageMakerEndpointType=endpoint_type)
    (model,) = sagemaker.of_type("AWS::SageMaker::Model").values()
    assert sagemaker.resolve(model["Properties"]["EnableNetworkIsolation"]) is isolated
    deploy = sagemaker.function_environment("DeployModelFunction", "")
    # Retrained models are created by the deploy step with the same setting.
    assert deploy["SAGEMAKER_NETWORK_ISOLATION"] == str(isolated).lower()


@pytest.mark.parametrize(
    ("resource_type", "path"),
    [
        ("AWS::CloudFront::OriginAccessControl", ("OriginAccessControlConfig", "Name")),
        ("AWS::CloudFront::ResponseHeadersPolicy", ("ResponseHeadersPolicyConfig", "Name")),
        ("AWS::CloudFront::OriginRequestPolicy", ("OriginRequestPolicyConfig", "Name")),
    ],
)
def test_account_wide_names_differ_between_regions(resource_type: str, path: tuple[str, ...]) -> None:
    resources = template().of_type(resource_type)
    assert resources
    for resource in resources.values():
        value: Any = resource["Properties"]
        for key in path:
            value = value[key]
        assert "${AWS::Region}" in value["Fn::Sub"]
        assert "${AWS::StackName}" in value["Fn::Sub"]


def test_the_image_repository_can_be_deleted_with_its_images() -> None:
    (repository,) = template().of_type("AWS::ECR::Repository").values()
    assert repository["Properties"]["EmptyOnDelete"] is True


def test_the_ecs_service_finds_the_model_by_the_namespace_the_template_declares() -> None:
    ecs = template(InferenceBackend="ecs")
    (namespace,) = ecs.of_type("AWS::ServiceDiscovery::PrivateDnsNamespace").values()
    (service,) = ecs.of_type("AWS::ServiceDiscovery::Service").values()
    url = ecs.function_environment("ApiFunction", "")["MODEL_URL"]
    host = f"{service['Properties']['Name']}.{ecs.resolve(namespace['Properties']['Name'])}"
    assert re.fullmatch(rf"http://{re.escape(host)}:8080", url)


def test_the_local_stack_refuses_reserved_concurrency_a_new_account_cannot_give() -> None:
    specs = [template().function(logical_id, "") for logical_id in template().functions()]
    check_reserved_concurrency(specs)  # the template as it is
    reserving = [replace(specs[0], reserved_concurrency=2), *specs[1:]]
    with pytest.raises(LimitExceeded, match="Configuring reserved concurrency"):
        check_reserved_concurrency(reserving)
    check_reserved_concurrency(reserving, account_concurrency=1000)  # an account with the usual limit
    with pytest.raises(LimitExceeded):
        check_reserved_concurrency([replace(specs[0], reserved_concurrency=901)], account_concurrency=1000)
