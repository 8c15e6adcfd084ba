"""The web page is served by CloudFront from a private bucket, and the API from the same address."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

import pytest

from sentiment_common.dal.presigned import upload_host
from sentiment_common.datasets import upload_key
from sentiment_common.jobs import input_key
from sentiment_template.reader import Template, load
from tests.conftest import ROOT, fake_credentials

RESOURCES: dict[str, Any] = load(ROOT / "template.yaml")["Resources"]
DISTRIBUTION: dict[str, Any] = RESOURCES["WebDistribution"]["Properties"]["DistributionConfig"]
ROUTES = Template.read(ROOT / "template.yaml").http_routes()
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def origin_for(path: str) -> str:
    """The origin CloudFront sends ``path`` to: the first ordered behaviour whose pattern matches
    (``*`` spans any characters, ``/`` too; case-sensitive), else the default behaviour."""
    for behaviour in DISTRIBUTION.get("CacheBehaviors", []):
        if fnmatchcase(path, behaviour["PathPattern"]):
            return str(behaviour["TargetOriginId"])
    return str(DISTRIBUTION["DefaultCacheBehavior"]["TargetOriginId"])


def origin(origin_id: str) -> dict[str, Any]:
    (found,) = (item for item in DISTRIBUTION["Origins"] if item["Id"] == origin_id)
    return dict(found)


def as_requested(route_path: str) -> str:
    """A path a browser would request for the route: each ``{parameter}`` filled in."""
    return re.sub(r"\{[^}]+\}", "abc-123", route_path)


def test_every_api_route_goes_to_the_api() -> None:
    assert len(ROUTES) >= 10
    api = origin(origin_for("/health"))
    assert api["DomainName"] == {"Fn::Sub": "${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    for route in ROUTES:
        assert origin_for(as_requested(route.path)) == api["Id"], f"{route.key} would reach the web bucket"


def api_behaviours() -> list[dict[str, Any]]:
    return [item for item in DISTRIBUTION["CacheBehaviors"] if item["TargetOriginId"] == "HttpApi"]


def upload_behaviours() -> list[dict[str, Any]]:
    return [item for item in DISTRIBUTION["CacheBehaviors"] if item["TargetOriginId"] == "DataBucketUploads"]


def test_each_api_behaviour_serves_some_route() -> None:
    for behaviour in api_behaviours():
        pattern = behaviour["PathPattern"]
        assert any(fnmatchcase(as_requested(route.path), pattern) for route in ROUTES), f"{pattern} matches no route"


def test_the_api_origin_is_its_default_stage_over_tls() -> None:
    # No StageName: the HTTP API serves its $default stage at the root, so no OriginPath either.
    assert "StageName" not in RESOURCES["HttpApi"]["Properties"]
    api = origin(origin_for("/comments"))
    assert "OriginPath" not in api
    assert api["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert api["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]


def test_api_behaviours_pass_every_request_through_uncached() -> None:
    behaviours = api_behaviours()
    assert len(behaviours) + len(upload_behaviours()) == len(DISTRIBUTION["CacheBehaviors"])
    for behaviour in behaviours:
        assert behaviour["TargetOriginId"] == origin(origin_for("/health"))["Id"]
        assert set(behaviour["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
        assert behaviour["CachePolicyId"] == CACHING_DISABLED
        assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"


@pytest.mark.parametrize("key", [input_key("b7f0c1d2"), upload_key("tickets")])
def test_an_upload_on_the_page_origin_goes_to_the_data_bucket_and_nothing_else_does(key: str) -> None:
    # the key's own path, as PresignedLinks.upload_path gives it, reaches the bucket, not the API
    assert origin_for(f"/{key}") == "DataBucketUploads"
    for route in ROUTES:
        assert origin_for(as_requested(route.path)) != "DataBucketUploads", route.key
    assert all(origin_for(f"/{key}{tail}") == "HttpApi" for tail in ("/", "x", "/results"))


def test_uploads_reach_the_bucket_with_their_signed_query_only_and_uncached() -> None:
    (policy,) = {str(item["OriginRequestPolicyId"]["Ref"]) for item in upload_behaviours()}
    config = RESOURCES[policy]["Properties"]["OriginRequestPolicyConfig"]
    assert config["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    assert config["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert config["CookiesConfig"] == {"CookieBehavior": "none"}
    for behaviour in upload_behaviours():
        assert "PUT" in behaviour["AllowedMethods"]
        assert behaviour["CachePolicyId"] == CACHING_DISABLED
        assert behaviour["ViewerProtocolPolicy"] == "https-only"
    uploads = origin("DataBucketUploads")
    # no origin access control: CloudFront would sign over the presigned request with its own identity
    assert "OriginAccessControlId" not in uploads
    assert uploads["S3OriginConfig"] == {"OriginAccessIdentity": ""}


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_the_uploads_origin_is_the_host_their_paths_are_signed_for(
    region: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_credentials(monkeypatch, AWS_REGION=region, AWS_DEFAULT_REGION=region)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # another endpoint does not change it
    domain = origin("DataBucketUploads")["DomainName"]["Fn::Sub"]
    resolved = (
        domain.replace("${DataBucket}", "sentiment-dev-data-1-x")
        .replace("${AWS::Region}", region)
        .replace("${AWS::URLSuffix}", "amazonaws.com")
    )
    assert upload_host("sentiment-dev-data-1-x") == resolved


@pytest.mark.parametrize("path", ["/", "/index.html", "/app.js", "/styles.css", "/favicon.svg", "/img/x.png"])
def test_the_page_comes_from_the_bucket(path: str) -> None:
    assert origin_for(path) == "WebBucket"


def test_no_file_of_the_page_is_taken_for_an_api_route() -> None:
    files = [path for path in (ROOT / "frontend").rglob("*") if path.is_file()]
    for path in files:
        request = "/" + path.relative_to(ROOT / "frontend").as_posix()
        assert origin_for(request) == "WebBucket", f"{request} would be sent to the API"


def test_the_default_behaviour_reads_the_private_bucket_through_the_origin_access_control() -> None:
    default = DISTRIBUTION["DefaultCacheBehavior"]
    bucket = origin(default["TargetOriginId"])
    assert bucket["DomainName"] == {"Fn::GetAtt": ["WebBucket", "RegionalDomainName"]}
    assert bucket["OriginAccessControlId"] == {"Fn::GetAtt": ["WebOriginAccessControl", "Id"]}
    assert bucket["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert default["CachePolicyId"] == CACHING_OPTIMIZED
    assert default["ResponseHeadersPolicyId"] == {"Ref": "WebSecurityHeadersPolicy"}
    assert DISTRIBUTION["DefaultRootObject"] == "index.html"
    access = RESOURCES["WebOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (access["OriginAccessControlOriginType"], access["SigningBehavior"], access["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )


def test_the_web_bucket_is_private_and_encrypted() -> None:
    properties = RESOURCES["WebBucket"]["Properties"]
    assert all(properties["PublicAccessBlockConfiguration"].values())
    assert len(properties["PublicAccessBlockConfiguration"]) == 4
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_only_the_distribution_may_read_the_bucket_and_only_over_tls() -> None:
    policy = RESOURCES["WebBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "WebBucket"}
    statements = policy["PolicyDocument"]["Statement"]
    (allow,) = (statement for statement in statements if statement["Effect"] == "Allow")
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert allow["Resource"] == {"Fn::Sub": "${WebBucket.Arn}/*"}
    source_arn = allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert source_arn.endswith(":cloudfront::${AWS::AccountId}:distribution/${WebDistribution}")
    (deny,) = (statement for statement in statements if statement["Effect"] == "Deny")
    assert (deny["Principal"], deny["Action"]) == ("*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_page_may_run_only_its_own_scripts() -> None:
    headers = RESOURCES["WebSecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    policy = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    directives = {item.split()[0]: item.split()[1:] for item in policy.split(";") if item.strip()}
    assert directives["script-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "strict-origin-when-cross-origin"
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert all(header["Override"] is True for header in security.values())


def test_the_outputs_say_where_the_page_lives() -> None:
    outputs = load(ROOT / "template.yaml")["Outputs"]
    assert outputs["WebUrl"]["Value"] == {"Fn::Sub": "https://${WebDistribution.DomainName}"}
    assert outputs["WebBucketName"]["Value"] == {"Ref": "WebBucket"}
    assert outputs["WebDistributionId"]["Value"] == {"Ref": "WebDistribution"}
    assert "ApiUrl" in outputs
