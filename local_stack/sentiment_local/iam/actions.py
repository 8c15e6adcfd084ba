"""Which IAM action, on which resource, an AWS request needs: the service authorization reference, for
the operations this project makes (and the ones the local stack itself makes, for completeness).

An HTTP request as it reaches the AWS endpoint is read into a :class:`Call` (service, operation,
parameters), then :func:`authorizations` lists what IAM must allow for it, as AWS documents it:

- one action per operation, on the resource the request names (a table, an object, a queue, an
  execution...), with the ARN built as the service builds it (SageMaker lower-cases its names);
- more than one where AWS checks more: ``TransactWriteItems`` checks each item's own action on its own
  table, ``CopyObject`` reads the source and writes the target, ``DeleteObjects`` deletes each key,
  ``CreateTrainingJob`` and ``CreateModel`` pass a role (``iam:PassRole`` with ``iam:PassedToService``)
  and tags given on creation are authorised as ``sagemaker:AddTags``;
- operations that need no permission (``sts:GetCallerIdentity``) need nothing.

An operation of a known service whose resource is not mapped here is checked on ``*`` (so a policy
scoped to ARNs refuses it, loudly: add it here). Sources: the Service Authorization Reference pages
"Actions, resources, and condition keys for" Amazon DynamoDB, Amazon S3, Amazon SQS, Amazon SNS, AWS
Step Functions, Amazon SageMaker AI, AWS Lambda, AWS Secrets Manager, AWS Systems Manager, Amazon
EventBridge, Amazon CloudWatch and AWS Identity and Access Management; DynamoDB's "Using IAM with
DynamoDB transactions"; S3's ``CopyObject`` and ``DeleteObjects`` API pages.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from sentiment_template.policies import Authorization

ACCOUNT = "123456789012"
REGION = "us-east-1"

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")
_LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
_SAGEMAKER_INVOKE = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations(-response-stream)?$")
_CLOUDFRONT_INVALIDATION = re.compile(r"^/[0-9-]+/distribution/(?P<name>[^/]+)/invalidation$")
_LAMBDA_FUNCTION = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)$")
# The REST calls this project makes (all POSTs): path, operation, the parameter the path names.
_REST_OPERATIONS = (
    (_LAMBDA_INVOKE, "Invoke", "FunctionName"),
    (_SAGEMAKER_INVOKE, "InvokeEndpoint", "EndpointName"),
    (_CLOUDFRONT_INVALIDATION, "CreateInvalidation", "Id"),
)
# The REST DELETEs: CloudFormation deleting a stack's function.
_REST_DELETES = ((_LAMBDA_FUNCTION, "DeleteFunction", "FunctionName"),)
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}
# IAM's prefix where it differs from the request's signing name.
_PREFIXES = {"monitoring": "cloudwatch", "execute-api": "execute-api"}


@dataclass(frozen=True)
class Call:
    """One AWS request: who signed it, for which service, which operation with which parameters."""

    access_key: str | None
    service: str  # the signing name in the credential scope
    operation: str
    params: Mapping[str, Any]
    method: str = "POST"
    path: str = "/"
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    bucket: str | None = None  # S3 only
    key: str | None = None  # S3 only
    body: bytes = b""

    @property
    def protocol(self) -> str:
        if self.service == "s3":
            return "rest-xml"
        if "x-amz-target" in self.headers:
            return "json"
        if self.operation and self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return "query"
        return "rest-json"


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


def _credential(headers: Mapping[str, str], query: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(access key, signing service) from a SigV4 Authorization header or a presigned URL."""
    found = _CREDENTIAL.search(headers.get("authorization", ""))
    if found:
        return found.group(1), found.group(3)
    scope = query.get("X-Amz-Credential", "").split("/")
    if len(scope) == 5:
        return scope[0], scope[3]
    return None, None


def reads_body(environ: Mapping[str, Any]) -> bool:
    """Whether what a request may do depends on its body: a JSON or query call's parameters, the keys of an
    S3 DeleteObjects. An S3 PUT's body is an object's bytes (or a part's, or a configuration), never read
    here: a file uploaded is not held in memory for IAM."""
    headers = _headers(environ)
    query = {name: values[0] for name, values in parse_qs(str(environ.get("QUERY_STRING", ""))).items()}
    service = _credential(headers, query)[1]
    return not (service == "s3" and str(environ.get("REQUEST_METHOD", "")).upper() == "PUT")


def read_call(environ: Mapping[str, Any], body: bytes) -> Call | None:
    """The call a WSGI request carries; None for what is not an AWS API request (moto's own API,
    unsigned requests)."""
    headers = _headers(environ)
    raw_query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
    query = {name: values[0] for name, values in raw_query.items()}
    access_key, service = _credential(headers, query)
    if access_key is None or service is None:
        return None
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    path = str(environ.get("PATH_INFO", "/")).encode("latin-1").decode("utf-8", errors="replace")
    common: dict[str, Any] = {
        "access_key": access_key,
        "service": service,
        "method": method,
        "path": path,
        "query": query,
        "headers": headers,
        "body": body,
    }
    if service == "s3":
        return _s3_call(common, str(headers.get("host", "")))
    operation, params = _operation(method, path, query, headers, body)
    return Call(operation=operation, params=params, **common)


def _operation(
    method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
) -> tuple[str, Mapping[str, Any]]:
    """The operation and its parameters: from ``X-Amz-Target`` and a JSON body, a query protocol's
    ``Action``, or the REST paths this project calls."""
    target = headers.get("x-amz-target")
    if target:
        return target.rsplit(".", 1)[-1], json.loads(body) if body.strip() else {}
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = {name: values[0] for name, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        if "Action" in form:
            return form["Action"], form
    if "Action" in query:
        return query["Action"], query
    for pattern, operation, parameter in _REST_OPERATIONS:
        if method == "POST" and (found := pattern.match(path)):
            return operation, {parameter: unquote(found["name"])}
    for pattern, operation, parameter in _REST_DELETES:
        if method == "DELETE" and (found := pattern.match(path)):
            return operation, {parameter: unquote(found["name"])}
    return f"{method} {path}", {}


# ---- S3 ----

_S3_BUCKET_GETS = {
    "versions": "s3:ListBucketVersions",
    "location": "s3:GetBucketLocation",
    "notification": "s3:GetBucketNotification",
    "versioning": "s3:GetBucketVersioning",
    "policy": "s3:GetBucketPolicy",
    "tagging": "s3:GetBucketTagging",
    "uploads": "s3:ListBucketMultipartUploads",
}
_S3_BUCKET_PUTS = {
    "notification": "s3:PutBucketNotification",
    "versioning": "s3:PutBucketVersioning",
    "policy": "s3:PutBucketPolicy",
    "tagging": "s3:PutBucketTagging",
}


# A virtual-hosted request names its bucket in the host: {bucket}.s3.{region}.amazonaws.com, or the older
# {bucket}.s3.amazonaws.com and {bucket}.s3-{region}.amazonaws.com (Amazon S3 user guide, "Virtual hosting
# of general purpose buckets", https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html).
# The page's uploads come this way, with the host CloudFront sends to the bucket origin.
_VIRTUAL_HOST = re.compile(r"^(?P<bucket>.+)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$")


def _s3_call(common: dict[str, Any], host: str) -> Call:
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]", maxsplit=1)[0] + "]"
    path = str(common["path"])
    virtual = _VIRTUAL_HOST.match(hostname)
    if virtual:
        bucket, key = virtual["bucket"], path.lstrip("/")
    elif hostname not in _LOCAL_HOSTS and hostname.endswith(".localhost"):
        bucket, key = hostname.split(".", 1)[0], path.lstrip("/")
    else:
        bucket, _, key = path.lstrip("/").partition("/")
    return Call(operation="S3", params={}, bucket=bucket or None, key=key or None, **common)


def s3_object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _s3(call: Call) -> list[Authorization]:
    if call.bucket is None:
        return [Authorization("s3:ListAllMyBuckets", "*")]
    if call.key is None:
        return _s3_bucket(call, call.bucket)
    return _s3_object(call, call.bucket, call.key)


def _s3_bucket(call: Call, bucket: str) -> list[Authorization]:
    bucket_arn = f"arn:aws:s3:::{bucket}"
    method, query = call.method, call.query
    if method == "POST" and "delete" in query:
        return [Authorization("s3:DeleteObject", s3_object_arn(bucket, key)) for key in _deleted_keys(call.body)]
    named = _S3_BUCKET_GETS if method in {"GET", "HEAD"} else _S3_BUCKET_PUTS if method == "PUT" else {}
    for name, action in named.items():
        if name in query:
            return [Authorization(action, bucket_arn)]
    plain = {"GET": "s3:ListBucket", "HEAD": "s3:ListBucket", "PUT": "s3:CreateBucket", "DELETE": "s3:DeleteBucket"}
    action = plain.get(method, f"s3:{method}Bucket")
    context = {"s3:prefix": query.get("prefix", "")} if action == "s3:ListBucket" else {}
    return [Authorization(action, bucket_arn, context)]


def _s3_object(call: Call, bucket: str, key: str) -> list[Authorization]:
    object_arn = s3_object_arn(bucket, key)
    method = call.method
    versioned = "versionId" in call.query
    if "uploadId" in call.query and method in {"GET", "DELETE"}:
        # ListParts and AbortMultipartUpload have actions of their own (S3 user guide, "Multipart upload
        # API and permissions", https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html)
        return [
            Authorization("s3:ListMultipartUploadParts" if method == "GET" else "s3:AbortMultipartUpload", object_arn)
        ]
    if method in {"GET", "HEAD"}:
        return [Authorization("s3:GetObjectVersion" if versioned else "s3:GetObject", object_arn)]
    if method == "DELETE":
        return [Authorization("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", object_arn)]
    needed = [Authorization("s3:PutObject" if method in {"PUT", "POST"} else f"s3:{method}Object", object_arn)]
    source = call.headers.get("x-amz-copy-source")
    if source and method == "PUT":
        source_bucket, _, source_key = unquote(source).lstrip("/").partition("/")
        needed.append(
            Authorization("s3:GetObject", s3_object_arn(source_bucket, source_key.partition("?versionId=")[0]))
        )
    return needed


def _deleted_keys(body: bytes) -> list[str]:
    root = ET.fromstring(body)  # noqa: S314 - a request body the local endpoint received, parsed for keys only
    return [element.text or "" for element in root.iter() if element.tag.rsplit("}", 1)[-1] == "Key"]


# ---- JSON and query services ----


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def _dynamodb(call: Call) -> list[Authorization]:
    operation, params = call.operation, call.params

    def table(name: str, index: str | None = None) -> str:
        return _arn("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))

    if operation == "TransactWriteItems":
        kinds = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        return [
            Authorization(f"dynamodb:{kinds[kind]}", table(item[kind]["TableName"]))
            for item in params.get("TransactItems", [])
            for kind in item
            if kind in kinds
        ]
    if operation == "TransactGetItems":
        return [
            Authorization("dynamodb:GetItem", table(item["Get"]["TableName"]))
            for item in params.get("TransactItems", [])
        ]
    if operation in {"BatchGetItem", "BatchWriteItem"}:
        return [Authorization(f"dynamodb:{operation}", table(name)) for name in params.get("RequestItems", {})]
    if "TableName" in params:
        return [Authorization(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")))]
    return [Authorization(f"dynamodb:{operation}", "*")]


def queue_arn(url: str) -> str:
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:aws:sqs:{REGION}:{account}:{name}"


def _sqs(call: Call) -> list[Authorization]:
    operation, params = call.operation, call.params
    action = {
        "SendMessageBatch": "SendMessage",
        "DeleteMessageBatch": "DeleteMessage",
        "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    }.get(operation, operation)
    if "QueueUrl" in params:
        return [Authorization(f"sqs:{action}", queue_arn(str(params["QueueUrl"])))]
    if "QueueName" in params:
        return [Authorization(f"sqs:{action}", _arn("sqs", str(params["QueueName"])))]
    return [Authorization(f"sqs:{action}", "*")]


def _sns(call: Call) -> list[Authorization]:
    params = call.params
    arn = params.get("TopicArn") or params.get("TargetArn") or params.get("ResourceArn")
    if not arn and "Name" in params:
        arn = _arn("sns", str(params["Name"]))
    return [Authorization(f"sns:{call.operation}", str(arn or "*"))]


def _states(call: Call) -> list[Authorization]:
    params = call.params
    arn = (
        params.get("executionArn")
        or params.get("stateMachineArn")
        or params.get("mapRunArn")
        or params.get("resourceArn")
    )
    if not arn and call.operation == "CreateStateMachine":
        arn = _arn("states", f"stateMachine:{params.get('name', '')}")
    return [Authorization(f"states:{call.operation}", str(arn or "*"))]


_SAGEMAKER_RESOURCES = (
    ("TrainingJob", "training-job", "TrainingJobName"),
    ("EndpointConfig", "endpoint-config", "EndpointConfigName"),
    ("Endpoint", "endpoint", "EndpointName"),
    ("Model", "model", "ModelName"),
)


def sagemaker_arn(kind: str, name: str) -> str:
    """SageMaker's ARNs hold its resources' names in lower case."""
    return _arn("sagemaker", f"{kind}/{name.lower()}")


def _pass_role(role_arn: str) -> Authorization:
    return Authorization("iam:PassRole", role_arn, {"iam:PassedToService": "sagemaker.amazonaws.com"})


def _sagemaker(call: Call) -> list[Authorization]:
    operation, params = call.operation, call.params
    action = f"sagemaker:{operation}"
    if operation == "InvokeEndpoint":
        return [Authorization(action, sagemaker_arn("endpoint", str(params["EndpointName"])))]
    if operation in {"AddTags", "ListTags", "DeleteTags"}:
        return [Authorization(action, str(params.get("ResourceArn", "*")))]
    for suffix, kind, name_field in _SAGEMAKER_RESOURCES:
        if operation.endswith(suffix) and name_field in params and not operation.startswith("List"):
            resource = sagemaker_arn(kind, str(params[name_field]))
            needed = [Authorization(action, resource)]
            for role_field in ("RoleArn", "ExecutionRoleArn"):
                if operation.startswith("Create") and role_field in params:
                    needed.append(_pass_role(str(params[role_field])))
            if operation.startswith("Create") and params.get("Tags"):
                needed.append(Authorization("sagemaker:AddTags", resource))
            return needed
    return [Authorization(action, "*")]


def _cloudformation(call: Call) -> list[Authorization]:
    """A stack's ARN ends in an id CloudFormation made up; a policy names stacks ``stack/<name>/*``."""
    name = call.params.get("StackName")
    if not name:
        return [Authorization(f"cloudformation:{call.operation}", "*")]
    arn = str(name) if str(name).startswith("arn:") else _arn("cloudformation", f"stack/{name}/local")
    return [Authorization(f"cloudformation:{call.operation}", arn)]


def _ecr(call: Call) -> list[Authorization]:
    """ECR authorizes its repository actions on the repository's ARN, GetAuthorizationToken on ``*``."""
    name = call.params.get("repositoryName")
    resource = _arn("ecr", f"repository/{name}") if name else "*"
    return [Authorization(f"ecr:{call.operation}", resource)]


def _ecs(call: Call) -> list[Authorization]:
    """DescribeServices is authorized on each service's ARN (``service/<cluster>/<service>``)."""
    if call.operation == "DescribeServices":
        cluster = str(call.params.get("cluster", "default")).rsplit("/", 1)[-1]
        return [
            Authorization("ecs:DescribeServices", _arn("ecs", f"service/{cluster}/{str(service).rsplit('/', 1)[-1]}"))
            for service in call.params.get("services", [])
        ]
    return [Authorization(f"ecs:{call.operation}", "*")]


def _cloudfront(call: Call) -> list[Authorization]:
    """CloudFront is global: its ARNs have no region (``arn:aws:cloudfront::<account>:distribution/<id>``)."""
    if "Id" in call.params:
        resource = f"arn:aws:cloudfront::{ACCOUNT}:distribution/{call.params['Id']}"
        return [Authorization(f"cloudfront:{call.operation}", resource)]
    return [Authorization(f"cloudfront:{call.operation}", "*")]


def _lambda(call: Call) -> list[Authorization]:
    if call.operation not in {"Invoke", "DeleteFunction"}:
        return [Authorization(f"lambda:{call.operation}", "*")]
    name = str(call.params["FunctionName"])
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name:
        arn = f"arn:aws:lambda:{REGION}:{name}"
    else:
        arn = _arn("lambda", f"function:{name}")
    return [Authorization("lambda:InvokeFunction" if call.operation == "Invoke" else "lambda:DeleteFunction", arn)]


def _iam(call: Call) -> list[Authorization]:
    """IAM is global: a role's ARN has no region (``arn:aws:iam::<account>:role/<name>``)."""
    name = call.params.get("RoleName")
    resource = f"arn:aws:iam::{ACCOUNT}:role/{name}" if name else "*"
    return [Authorization(f"iam:{call.operation}", resource)]


SecretArnLookup = Callable[[str], str]


def _secretsmanager(call: Call, secret_arn: SecretArnLookup) -> list[Authorization]:
    params = call.params
    if "SecretId" in params:
        return [Authorization(f"secretsmanager:{call.operation}", secret_arn(str(params["SecretId"])))]
    if "Name" in params:
        return [Authorization(f"secretsmanager:{call.operation}", _arn("secretsmanager", f"secret:{params['Name']}"))]
    return [Authorization(f"secretsmanager:{call.operation}", "*")]


def _ssm(call: Call) -> list[Authorization]:
    names = call.params.get("Names") or ([call.params["Name"]] if "Name" in call.params else [])
    action = "ssm:GetParameters" if call.operation == "GetParameters" else f"ssm:{call.operation}"
    if not names:
        return [Authorization(action, "*")]
    return [Authorization(action, _arn("ssm", f"parameter/{str(name).lstrip('/')}")) for name in names]


def _events(call: Call) -> list[Authorization]:
    rule = call.params.get("Name") or call.params.get("Rule")
    return [Authorization(f"events:{call.operation}", _arn("events", f"rule/{rule}") if rule else "*")]


def _cloudwatch(call: Call) -> list[Authorization]:
    context = {"cloudwatch:namespace": str(call.params["Namespace"])} if "Namespace" in call.params else {}
    return [Authorization(f"cloudwatch:{call.operation}", "*", context)]


# Operations every principal may make with no permission at all.
_UNAUTHORIZED_OPERATIONS = {("sts", "GetCallerIdentity")}


def authorizations(call: Call, secret_arn: SecretArnLookup | None = None) -> list[Authorization]:
    """What IAM must allow for ``call``; every item must be allowed."""
    if (call.service, call.operation) in _UNAUTHORIZED_OPERATIONS:
        return []
    service = call.service
    if service == "s3":
        return _s3(call)
    if service == "secretsmanager":
        return _secretsmanager(call, secret_arn or (lambda secret_id: secret_id))
    handlers: dict[str, Callable[[Call], list[Authorization]]] = {
        "dynamodb": _dynamodb,
        "sqs": _sqs,
        "sns": _sns,
        "states": _states,
        "sagemaker": _sagemaker,
        "lambda": _lambda,
        "ssm": _ssm,
        "events": _events,
        "monitoring": _cloudwatch,
        "cloudformation": _cloudformation,
        "ecr": _ecr,
        "ecs": _ecs,
        "cloudfront": _cloudfront,
        "iam": _iam,
    }
    if service in handlers:
        return handlers[service](call)
    return [Authorization(f"{_PREFIXES.get(service, service)}:{call.operation}", "*")]
