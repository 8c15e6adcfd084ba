"""A deployed stack, played by moto behind the local IAM check: a CloudFormation stack made of the
template's buckets, tables and image repository (their names, key schemas and deletion policies as
template.yaml has them) with the outputs ``make deploy`` reads, deployed with the CloudFormation service
role. The steps after ``sam deploy`` then run with the deployer's key, checked against
``deploy/deployer-policies/``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from sentiment_local.iam.enforcer import Enforcer
from sentiment_local.persistence.stack_record import create_service_role
from sentiment_template import policies
from sentiment_template.reader import ROOT, Template
from tests.integration.conftest import enforced_moto

STACK = "sentiment-feedback-test"
STAND_IN_TYPES = {"AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::ECR::Repository"}
TABLE_PROPERTIES = ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "BillingMode")
BUCKET_PROPERTIES = ("BucketName", "VersioningConfiguration")
SETUP_KEY = "stack-setup"  # CloudFormation's own calls and the test's checks: not the deployer's


def stand_in_template(template: Template, outputs: dict[str, str]) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for logical_id, resource in template.resources.items():
        if resource["Type"] not in STAND_IN_TYPES or not template.condition_holds(resource.get("Condition")):
            continue
        properties = resource.get("Properties", {})
        kept = TABLE_PROPERTIES if resource["Type"] == "AWS::DynamoDB::Table" else BUCKET_PROPERTIES
        stand_in = {name: template.resolve(properties[name]) for name in kept if name in properties}
        if resource["Type"] == "AWS::ECR::Repository":
            stand_in = {"RepositoryName": f"{STACK}-{logical_id}".lower()}  # CloudFormation makes one up
        resources[logical_id] = {"Type": resource["Type"], "Properties": stand_in}
        if "DeletionPolicy" in resource:
            # moto's CloudFormation keeps only Retain; a stack whose creation completed keeps
            # RetainExceptOnCreate's resources as CloudFormation keeps Retain's.
            policy = resource["DeletionPolicy"]
            resources[logical_id]["DeletionPolicy"] = "Retain" if policy == "RetainExceptOnCreate" else policy
    declared = {}
    for name, output in template.document["Outputs"].items():
        value = output["Value"]
        target = value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0] if isinstance(value, dict) else None
        if target in resources:
            declared[name] = {"Value": value}
    declared.update({name: {"Value": value} for name, value in outputs.items()})
    parameters = {
        name: {"Type": "String", "Default": template.parameter(name)} for name in template.document["Parameters"]
    }
    return {"Parameters": parameters, "Resources": resources, "Outputs": declared}


@dataclass
class Deployed:
    template: Template
    endpoint: str
    enforcer: Enforcer

    def setup(self, service: str) -> Any:
        """A client outside the deployer's policies: CloudFormation itself, or the test looking."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=SETUP_KEY,
            aws_secret_access_key="local",
        )

    def output(self, name: str) -> str:
        (stack,) = self.setup("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
        return next(item["OutputValue"] for item in stack["Outputs"] if item["OutputKey"] == name)

    def resource(self, logical_id: str) -> str:
        summaries = self.setup("cloudformation").list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        return next(item["PhysicalResourceId"] for item in summaries if item["LogicalResourceId"] == logical_id)

    def without(self, sid: str) -> None:
        """The deployer with one statement of its policies taken out."""
        self.enforcer.replace(self.enforcer.principals["Deployer"].without(sid))


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    template = Template.read(ROOT / "template.yaml", prefix=STACK, overrides={"Stage": "dev"})
    with enforced_moto() as (endpoint, enforcer):
        stack = Deployed(template, endpoint, enforcer)
        distribution = stack.setup("cloudfront").create_distribution_with_tags(
            DistributionConfigWithTags={
                "DistributionConfig": {
                    "CallerReference": "deploy-test",
                    "Comment": "the stack's page",
                    "Enabled": True,
                    "Origins": {"Quantity": 1, "Items": [{"Id": "WebBucket", "DomainName": "web.s3.amazonaws.com"}]},
                    "DefaultCacheBehavior": {
                        "TargetOriginId": "WebBucket",
                        "ViewerProtocolPolicy": "redirect-to-https",
                    },
                },
                # as CloudFormation tags what it creates
                "Tags": {"Items": [{"Key": "aws:cloudformation:stack-name", "Value": STACK}]},
            }
        )["Distribution"]
        outputs = {
            "ApiUrl": "https://api.example.org",
            "WebUrl": f"https://{distribution['DomainName']}",
            "WebDistributionId": distribution["Id"],
            "TrainingRoleArn": template.role_arn("TrainingRole"),
            "AdminApiKeySecretArn": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{STACK}-admin",
        }
        body = json.dumps(stand_in_template(template, outputs))
        # What the account's administrator made once: the service role make deploy deploys with
        create_service_role(stack.setup("iam"), policies.SERVICE_ROLE_ARN)
        stack.setup("cloudformation").create_stack(
            StackName=STACK, TemplateBody=body, RoleARN=policies.SERVICE_ROLE_ARN
        )
        enforcer.load({"Deployer": policies.deployer(), "CloudFormation": policies.service_role()})
        for name, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            **policies.credentials_for(policies.DEPLOYER_ARN),
        }.items():
            monkeypatch.setenv(name, value)
        # boto3's default session keeps the first credentials it found: make it find the deployer's
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
        yield stack
