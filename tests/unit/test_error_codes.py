"""Every AWS error code the project's code compares, or catches by a client's exception, is one a
service it calls answers with: declared in that service's API model (botocore's, the model the SDKs
are generated from), or one of the errors AWS documents outside the models (below, with the page)."""

from __future__ import annotations

import re
from functools import cache

from botocore.loaders import create_loader
from botocore.model import ServiceModel

from sentiment_common.dal.transient import TRANSIENT_CODES
from tests.conftest import ROOT

CALLED = (  # the services the functions, the layer and the deploy tools call
    "cloudformation",
    "cloudfront",
    "dynamodb",
    "ecr",
    "ecs",
    "iam",
    "logs",
    "s3",
    "sagemaker",
    "sagemaker-runtime",
    "secretsmanager",
    "sqs",
    "stepfunctions",
)
COMMON_ERRORS = "each service's API reference, Common Errors (e.g. SageMaker, Step Functions, CloudFormation)"
UNDECLARED: dict[str, str] = {
    "ThrottlingException": COMMON_ERRORS,
    "InternalFailure": COMMON_ERRORS,
    "ServiceUnavailable": COMMON_ERRORS,
    "ValidationError": COMMON_ERRORS,  # CloudFormation (the Query protocol's validation error)
    "SlowDown": "https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList",
    "InternalError": "https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList",
    # HeadObject's answer has no body: botocore's code is the status
    "404": "https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html",
    # A reason in TransactionCanceledException's CancellationReasons, not an error code
    "ConditionalCheckFailed": "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CancellationReason.html",
}
SOURCES = ("functions", "layers/shared/sentiment_common", "deploy/sentiment_deploy")
COMPARED = re.compile(r"""(?:\["Code"\]|\.get\("Code"\)|\bcode)\s*(?:==|!=|in|not in)\s*(\{[^}]*\}|"[^"]*")""")
CAUGHT = re.compile(r"\b(?!urllib3)\w+\.exceptions\.(\w+)")


@cache
def declared() -> frozenset[str]:
    loader = create_loader()
    codes = set()
    for service in CALLED:
        model = ServiceModel(loader.load_service_model(service, "service-2"), service)
        for name in model.shape_names:
            shape = model.shape_for(name)
            if shape.metadata.get("exception"):
                codes |= {name, str(shape.metadata.get("error", {}).get("code", name))}
    return frozenset(codes)


def _compared_in_the_code() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            codes = {code for match in COMPARED.findall(text) for code in re.findall(r'"([^"]*)"', match)}
            codes |= set(CAUGHT.findall(text))
            if codes:
                found[str(path.relative_to(ROOT))] = codes
    return found


def test_the_error_codes_the_code_looks_for_are_ones_aws_answers_with() -> None:
    found = _compared_in_the_code()
    assert found, "the scan found nothing: has the way codes are compared changed?"
    unknown = {
        path: sorted(code for code in codes if code not in declared() and code not in UNDECLARED)
        for path, codes in found.items()
    }
    assert not {path: codes for path, codes in unknown.items() if codes}


def test_the_transient_codes_are_ones_the_services_they_guard_answer_with() -> None:
    assert sorted(code for code in TRANSIENT_CODES if code not in declared() and code not in UNDECLARED) == []
