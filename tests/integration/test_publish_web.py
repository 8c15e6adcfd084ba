"""python -m sentiment_deploy publish-web against a deployed stack, played by moto: a CloudFormation stack whose outputs
name a bucket it created and a CloudFront distribution."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from sentiment_deploy.__main__ import main

STACK = "sentiment-feedback-test"
# The outputs the real template gives; CloudFormation on moto cannot create a distribution, so the
# stack is handed the one created beforehand.
STACK_TEMPLATE = {
    "Parameters": {"DistributionId": {"Type": "String"}, "DistributionDomain": {"Type": "String"}},
    "Resources": {"WebBucket": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {
        "WebBucketName": {"Value": {"Ref": "WebBucket"}},
        "WebDistributionId": {"Value": {"Ref": "DistributionId"}},
        "WebUrl": {"Value": {"Fn::Sub": "https://${DistributionDomain}"}},
    },
}
PAGE = {
    "index.html": "<!doctype html><title>page</title><script type=module src=app.js></script>",
    "app.js": "import { api } from './api.js';",
    "api.js": "export const api = {};",
    "styles.css": "body { margin: 0 }",
    "favicon.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>',
    "img/wave.png": "not really a png",
    "README.md": "# notes for developers",
    ".DS_Store": "finder",
}


@dataclass(frozen=True)
class DeployedStack:
    bucket: str
    distribution_id: str
    url: str


@pytest.fixture
def deployed(aws: None) -> DeployedStack:
    distribution = boto3.client("cloudfront").create_distribution(DistributionConfig=distribution_config())
    domain = distribution["Distribution"]["DomainName"]
    distribution_id = distribution["Distribution"]["Id"]
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(STACK_TEMPLATE),
        Parameters=[
            {"ParameterKey": "DistributionId", "ParameterValue": distribution_id},
            {"ParameterKey": "DistributionDomain", "ParameterValue": domain},
        ],
    )
    (bucket,) = (
        resource["PhysicalResourceId"]
        for resource in cloudformation.describe_stack_resources(StackName=STACK)["StackResources"]
        if resource["LogicalResourceId"] == "WebBucket"
    )
    return DeployedStack(bucket, distribution_id, f"https://{domain}")


def distribution_config() -> dict[str, Any]:
    return {
        "CallerReference": "publish-web-test",
        "Comment": "test",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "WebBucket", "DomainName": "web.s3.amazonaws.com"}]},
        "DefaultCacheBehavior": {"TargetOriginId": "WebBucket", "ViewerProtocolPolicy": "redirect-to-https"},
    }


@pytest.fixture
def page(tmp_path: Path) -> Path:
    source = tmp_path / "frontend"
    for name, text in PAGE.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    return source


def objects(bucket: str) -> dict[str, dict[str, Any]]:
    s3 = boto3.client("s3")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.head_object(Bucket=bucket, Key=key) for key in keys}


def test_the_page_is_uploaded_with_its_types_and_cache_lifetimes(
    deployed: DeployedStack, page: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a bucket still holding a file the page no longer has
    boto3.client("s3").put_object(Bucket=deployed.bucket, Key="old-app.js", Body=b"gone")

    # When the page is published
    assert main(["publish-web", "--stack-name", STACK, "--source", str(page)]) == 0

    # Then the bucket holds exactly the page's files, typed for the browser
    stored = objects(deployed.bucket)
    assert sorted(stored) == ["api.js", "app.js", "favicon.svg", "img/wave.png", "index.html", "styles.css"]
    types = {key: head["ContentType"] for key, head in stored.items()}
    assert types["index.html"] == "text/html; charset=utf-8"
    assert types["app.js"] == types["api.js"] == "text/javascript; charset=utf-8"
    assert types["styles.css"] == "text/css; charset=utf-8"
    assert types["favicon.svg"] == "image/svg+xml"
    assert types["img/wave.png"] == "image/png"
    # index.html is revalidated on every load; what it names may be five minutes old
    assert stored["index.html"]["CacheControl"] == "no-cache"
    assert {stored[key]["CacheControl"] for key in stored if key != "index.html"} == {"max-age=300"}
    body = boto3.client("s3").get_object(Bucket=deployed.bucket, Key="app.js")["Body"].read()
    assert body == PAGE["app.js"].encode()

    # And CloudFront was told to drop every cached copy
    cloudfront = boto3.client("cloudfront")
    (summary,) = cloudfront.list_invalidations(DistributionId=deployed.distribution_id)["InvalidationList"]["Items"]
    invalidation = cloudfront.get_invalidation(DistributionId=deployed.distribution_id, Id=summary["Id"])
    assert invalidation["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/*"]

    # And the output says what happened and where the page is
    printed = capsys.readouterr().out
    assert "deleted   old-app.js" in printed
    assert "uploaded  index.html" in printed
    assert "README.md" not in printed
    assert printed.rstrip().endswith(deployed.url)


def test_the_stack_comes_from_samconfig(deployed: DeployedStack, page: Path, tmp_path: Path) -> None:
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[default.global.parameters]\nstack_name = "someone-else"\n'
        f'[prod.global.parameters]\nstack_name = "{STACK}"\n'
    )
    assert main(["publish-web", "--config-env", "prod", "--config-file", str(config), "--source", str(page)]) == 0
    assert "index.html" in objects(deployed.bucket)


def test_a_missing_stack_is_named_in_one_line(
    deployed: DeployedStack, page: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish-web", "--stack-name", "no-such-stack", "--source", str(page)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "stack 'no-such-stack' not found" in error
    assert objects(deployed.bucket) == {}


def test_a_stack_without_the_web_outputs_is_refused(
    deployed: DeployedStack, page: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    older = {"Resources": {"DataBucket": {"Type": "AWS::S3::Bucket"}}, "Outputs": {"ApiUrl": {"Value": "https://x"}}}
    boto3.client("cloudformation").create_stack(StackName="older-stack", TemplateBody=json.dumps(older))
    assert main(["publish-web", "--stack-name", "older-stack", "--source", str(page)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "has no WebBucketName, WebDistributionId, WebUrl output" in error


def test_a_folder_without_index_html_publishes_nothing(
    deployed: DeployedStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An empty or wrong folder would otherwise delete the live page.
    boto3.client("s3").put_object(Bucket=deployed.bucket, Key="index.html", Body=b"live")
    (tmp_path / "README.md").write_text("only notes")
    assert main(["publish-web", "--stack-name", STACK, "--source", str(tmp_path)]) == 1
    assert "has no index.html" in capsys.readouterr().err
    assert list(objects(deployed.bucket)) == ["index.html"]
