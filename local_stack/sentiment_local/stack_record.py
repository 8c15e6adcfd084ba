"""The local stack as CloudFormation would describe it: a stack named after the prefix
(``sentiment-local``), whose parameters are the ones in force and whose outputs are the template's,
resolved to the local names and URLs. Tools that find a deployed stack by its outputs (``python -m
sentiment_deploy``, ``make smoke``, ``make env-vars``) then work against ``make up`` as they do on AWS.

moto's CloudFormation cannot create the template's resources (they are built from ``template.yaml``
elsewhere), so the record holds one placeholder resource and literal outputs. The image repository
and the page's CloudFront distribution, which nothing else here needs, are made for it."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from sentiment_local.template import ACCOUNT, REGION, Template

log = logging.getLogger(__name__)


def repository_uri(name: str) -> str:
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"


def _outputs(template: Template, queue_endpoint: str) -> dict[str, str]:
    outputs = {}
    for name, output in template.document.get("Outputs", {}).items():
        if not template.condition_holds(output.get("Condition")):
            continue
        try:
            outputs[name] = str(template.resolve(output["Value"], queue_endpoint))
        except (NotImplementedError, KeyError) as error:
            log.debug("output %s is not resolved locally: %s", name, error)
    return outputs


def _distribution(cloudfront: Any, bucket: str) -> dict[str, Any]:
    config = {
        "CallerReference": f"{bucket}-page",
        "Comment": "the local stack's page",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "WebBucket", "DomainName": f"{bucket}.s3.amazonaws.com"}]},
        "DefaultCacheBehavior": {"TargetOriginId": "WebBucket", "ViewerProtocolPolicy": "redirect-to-https"},
    }
    distribution: dict[str, Any] = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]
    return distribution


def record_stack(
    template: Template, client: Any, *, api_url: str, queue_endpoint: str, endpoint_name: str | None
) -> dict[str, str]:
    """Create the record (once per start: moto keeps no CloudFormation state across restarts); its outputs."""
    repository = template.physical_name("ModelImageRepository")
    ecr = client("ecr")
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository, imageTagMutability="IMMUTABLE")
    distribution = _distribution(client("cloudfront"), template.physical_name("WebBucket"))
    outputs = {
        **_outputs(template, queue_endpoint),
        "ApiUrl": api_url,
        "WebUrl": api_url,  # the gateway serves the page and the API from one origin, as CloudFront does
        "WebDistributionId": str(distribution["Id"]),
        "ModelImageRepositoryUri": repository_uri(repository),
        **({"SageMakerEndpointName": endpoint_name} if endpoint_name else {}),
    }
    parameters = {name: template.parameter(name) for name in template.document.get("Parameters", {})}
    body = {
        "Parameters": {name: {"Type": "String", "Default": value} for name, value in parameters.items()},
        "Resources": {"LocalStack": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    cloudformation = client("cloudformation")
    with contextlib.suppress(cloudformation.exceptions.ClientError):
        cloudformation.delete_stack(StackName=template.prefix)
    cloudformation.create_stack(StackName=template.prefix, TemplateBody=json.dumps(body))
    return outputs
