"""IAM, enforced from the template: each principal runs with the role CloudFormation would give it,
and each AWS call it makes is checked, action and resource, before moto answers it.

- **The roles.** SAM's own translator (samtranslator) turns ``template.yaml`` into CloudFormation, as
  ``sam deploy`` does: every function gets its ``<LogicalId>Role`` with the policy templates expanded
  and SAM's managed policies attached, the state machine its ``<LogicalId>Role``; the template's own
  ``AWS::IAM::Role`` resources (training, SageMaker execution, ECS task) come as written. Intrinsic
  functions and conditions are then resolved with the local stack's names and parameters.
- **Who is calling.** A principal signs its requests with an access key derived from its role's ARN
  (:func:`access_key_for`), as a Lambda function, a state machine, a training job or a container gets
  its role's credentials on AWS. The person who deploys signs with :data:`DEPLOYER_ARN`'s key and is
  checked against ``deploy/deployer-policies/``; what CloudFormation does on a stack deployed with the
  service role (deleting its resources) is signed with :data:`SERVICE_ROLE_ARN`'s key and checked against
  the role's policies in ``deploy/service-role/template.yaml``. Any other key (the local stack itself,
  tests, the AWS CLI) is an administrator's: not checked.
- **The check.** :class:`Enforcer` sits in front of moto's server. It reads the request
  (:mod:`sentiment_local.iam_actions` says which actions on which resources it needs) and evaluates the
  principal's policies as IAM does (IAM user guide, "Policy evaluation logic": an explicit deny wins,
  then an allow, else the implicit deny), with wildcards, ``NotAction``/``NotResource`` and the
  string, ARN and Bool condition operators; ``aws:ResourceTag/<key>`` is the resource's tag where
  :func:`sentiment_local.moto_gaps.resource_tags` knows it (a CloudFront distribution). A refused call
  gets AWS's ``AccessDenied`` in the service's own error format, with AWS's message, so the SDK raises
  what it raises on AWS.
- **S3's 404.** ``GetObject``/``HeadObject`` on a key that does not exist answer 404 only to a principal
  that may ``s3:ListBucket`` the bucket, 403 otherwise (S3 API reference, GetObject, "Permissions").

What is not enforced: resource-based policies (bucket policies, Lambda permissions, KMS key policies),
service control policies and permissions boundaries (the stack's roles' boundary allows all they are
granted, by construction: :func:`sentiment_deploy.policy.boundary_policy`); service principals (S3 invoking a function,
API Gateway invoking a function or its authorizer) are trusted. Every allowed action is recorded per
principal (:meth:`Enforcer.usage`), for the least-privilege report.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment_local import cloudformation
from sentiment_local.iam_actions import Authorization, Call, authorizations, read_call
from sentiment_local.template import ACCOUNT, ROOT, Template

log = logging.getLogger(__name__)

SECRET_ACCESS_KEY = "local-role-credentials"  # noqa: S105 - moto checks no signature

# The AWS managed policies SAM attaches to the roles it makes, as AWS publishes them (IAM console,
# "AWS managed policies"; the versions current when this was written).
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": "*",
        }
    ],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        },
    ],
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy": [
        {
            "Effect": "Allow",
            "Action": [
                "ecr:GetAuthorizationToken",
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ],
}


def access_key_for(role_arn: str) -> str:
    """The access key a principal running with ``role_arn`` signs with (temporary keys start ASIA)."""
    digest = base64.b32encode(hashlib.sha256(role_arn.encode()).digest()).decode()
    return "ASIA" + digest[:16]


def credentials_for(role_arn: str) -> dict[str, str]:
    """The environment variables that give a process the role's credentials."""
    return {
        "AWS_ACCESS_KEY_ID": access_key_for(role_arn),
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_SESSION_TOKEN": f"local-session-{role_arn.rsplit('/', 1)[-1]}",
    }


# ---- policies ----


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(item) for item in (value if isinstance(value, list) else [value]))


@functools.cache
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if part == "*" else "." if part == "?" else re.escape(part) for part in re.split(r"([*?])", pattern))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` any one character; nothing else is special."""
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


_STRING_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda expected, actual: expected == actual,
    "StringLike": _matches,
    "StringEqualsIgnoreCase": lambda expected, actual: expected.lower() == actual.lower(),
    "ArnEquals": lambda expected, actual: expected == actual,
    "ArnLike": _matches,
    "Bool": lambda expected, actual: expected.lower() == actual.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


class UnsupportedPolicy(ValueError):
    """A policy element the local check cannot evaluate; refused when the roles are read, never guessed."""


def _condition_holds(operator: str, key: str, expected: tuple[str, ...], context: Mapping[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    lowered = {name.lower(): value for name, value in context.items()}
    actual = lowered.get(key.lower())
    if actual is None:
        # A key missing from the request: negated operators match, the others do not (IfExists: both match).
        return if_exists or base in _NEGATED
    if base in _NEGATED:
        return not any(_STRING_OPERATORS[_NEGATED[base]](value, actual) for value in expected)
    return any(_STRING_OPERATORS[base](value, actual) for value in expected)


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    sid: str = ""
    policy: str = ""  # the name of the policy holding it

    @classmethod
    def parse(cls, raw: Mapping[str, Any], policy: str) -> Statement:
        conditions = []
        for operator, keys in raw.get("Condition", {}).items():
            base = operator.removesuffix("IfExists")
            if base not in _STRING_OPERATORS and base not in _NEGATED:
                raise UnsupportedPolicy(f"{policy}: condition operator {operator} is not evaluated locally")
            for key, values in keys.items():
                conditions.append((operator, str(key), _as_list(values)))
        statement = cls(
            effect=str(raw["Effect"]),
            actions=_as_list(raw.get("Action")),
            not_actions=_as_list(raw.get("NotAction")),
            resources=_as_list(raw.get("Resource")),
            not_resources=_as_list(raw.get("NotResource")),
            conditions=tuple(conditions),
            sid=str(raw.get("Sid", "")),
            policy=policy,
        )
        if statement.effect not in {"Allow", "Deny"}:
            raise UnsupportedPolicy(f"{policy}: Effect must be Allow or Deny, not {statement.effect!r}")
        return statement

    def applies_to(self, request: Authorization) -> bool:
        if self.actions and not any(_matches(pattern, request.action, ignore_case=True) for pattern in self.actions):
            return False
        if self.not_actions and any(
            _matches(pattern, request.action, ignore_case=True) for pattern in self.not_actions
        ):
            return False
        if self.resources and not any(_matches(pattern, request.resource) for pattern in self.resources):
            return False
        if self.not_resources and any(_matches(pattern, request.resource) for pattern in self.not_resources):
            return False
        return all(
            _condition_holds(operator, key, values, request.context) for operator, key, values in self.conditions
        )

    @property
    def label(self) -> str:
        return f"{self.policy}/{self.sid}" if self.sid else self.policy


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool = False
    statement: Statement | None = None


@dataclass(frozen=True)
class Principal:
    """A role, and who runs with it."""

    logical_id: str  # the role's logical id in the translated template
    arn: str
    statements: tuple[Statement, ...]

    @property
    def name(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def access_key(self) -> str:
        return access_key_for(self.arn)

    @property
    def session_arn(self) -> str:
        if ":user/" in self.arn:  # a person's own credentials, not a role's session
            return self.arn
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/{self.name}/{self.logical_id.removesuffix('Role')}"

    def decide(self, request: Authorization) -> Decision:
        allowed_by = None
        for statement in self.statements:
            if statement.applies_to(request):
                if statement.effect == "Deny":
                    return Decision(False, explicit_deny=True, statement=statement)
                allowed_by = allowed_by or statement
        return Decision(allowed_by is not None, statement=allowed_by)

    def without(self, sid: str) -> Principal:
        """The same role with one statement (by Sid, or ``policy/Sid``) taken out: what a test removes."""
        kept = tuple(statement for statement in self.statements if sid not in {statement.sid, statement.label})
        if len(kept) == len(self.statements):
            raise KeyError(f"{self.logical_id} has no statement {sid!r}")
        return Principal(self.logical_id, self.arn, kept)

    def granted_actions(self) -> list[str]:
        return sorted(
            {action for statement in self.statements if statement.effect == "Allow" for action in statement.actions}
        )


# ---- the roles, from the template ----


def translate(template: Template) -> dict[str, Any]:
    """``template.yaml`` as CloudFormation, by SAM's translator (the roles SAM makes included)."""
    return cloudformation.translate(template.document, template.overrides)


def principals(template: Template, translated: dict[str, Any] | None = None) -> dict[str, Principal]:
    """Every role the deployed stack would have, by logical id, with its policies resolved."""
    translated = translated if translated is not None else translate(template)
    found = {}
    for logical_id, resource in translated["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        condition = resource.get("Condition")
        if condition and not template.condition_holds(condition):
            continue
        properties = template.resolve(resource.get("Properties", {}))
        statements: list[Statement] = []
        for policy in properties.get("Policies", []):
            for raw in _as_statements(policy["PolicyDocument"]):
                statements.append(Statement.parse(raw, str(policy["PolicyName"])))
        for arn in properties.get("ManagedPolicyArns", []):
            if arn not in MANAGED_POLICIES:
                raise UnsupportedPolicy(f"{logical_id}: the managed policy {arn} is not known locally")
            statements.extend(Statement.parse(raw, arn.rsplit("/", 1)[-1]) for raw in MANAGED_POLICIES[arn])
        found[logical_id] = Principal(logical_id, template.role_arn(logical_id), tuple(statements))
    return found


DEPLOYER_POLICIES = ROOT / "deploy" / "deployer-policies"
DEPLOYER_ARN = f"arn:aws:iam::{ACCOUNT}:user/sentiment-deployer"
SERVICE_ROLE_TEMPLATE = ROOT / "deploy" / "service-role" / "template.yaml"
SERVICE_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/sentiment-cloudformation"


def deployer(folder: Path = DEPLOYER_POLICIES, only: Iterable[str] = ()) -> Principal:
    """The person who deploys, with the policies docs/aws.md tells them to attach (``only`` these files,
    if named): the deploy and destroy steps' calls are checked against them when signed with
    :func:`credentials_for` ``(DEPLOYER_ARN)``."""
    chosen = set(only)
    statements = tuple(
        Statement.parse(raw, path.stem)
        for path in sorted(folder.glob("*.json"))
        if not chosen or path.name in chosen
        for raw in _as_statements(json.loads(path.read_text()))
    )
    return Principal("Deployer", DEPLOYER_ARN, statements)


def service_role(template: Path = SERVICE_ROLE_TEMPLATE) -> Principal:
    """The CloudFormation service role, with the managed policies its template attaches to it: the local
    stack acts with it where CloudFormation would, on a stack it is associated with (CloudFormation user
    guide, "CloudFormation service role": CloudFormation uses the role for every operation on the stack)."""
    from sentiment_local.template import load  # noqa: PLC0415 - the template reader, short-form tags and all

    statements: list[Statement] = []
    for resource in load(template)["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": "ServiceRole"} in properties.get("Roles", []):
            name = str(properties["ManagedPolicyName"])
            statements.extend(Statement.parse(raw, name) for raw in _as_statements(properties["PolicyDocument"]))
    return Principal("CloudFormation", SERVICE_ROLE_ARN, tuple(statements))


def _as_statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]


# ---- the check ----


@dataclass(frozen=True)
class Refusal:
    principal: Principal
    request: Authorization
    explicit_deny: bool

    @property
    def message(self) -> str:
        why = (
            "with an explicit deny in an identity-based policy"
            if self.explicit_deny
            else f"because no identity-based policy allows the {self.request.action} action"
        )
        return (
            f"User: {self.principal.session_arn} is not authorized to perform: {self.request.action} "
            f"on resource: {self.request.resource} {why}"
        )


@dataclass
class Enforcer:
    """WSGI middleware in front of moto: each request signed by a principal is checked first."""

    app: Any
    principals: Mapping[str, Principal]
    secret_arn: Callable[[str], str] = lambda secret_id: secret_id
    resource_tags: Callable[[str], Mapping[str, str]] = lambda arn: {}
    usage_file: Path | None = None
    _by_key: dict[str, Principal] = field(init=False)
    _used: set[tuple[str, str]] = field(init=False, default_factory=set)
    _allowed_by: set[tuple[str, str, str]] = field(init=False, default_factory=set)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    refusals: list[Refusal] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self._by_key = {principal.access_key: principal for principal in self.principals.values()}

    def load(self, principals: Mapping[str, Principal]) -> None:
        """Check these principals from now on."""
        self.principals = dict(principals)
        self._by_key = {principal.access_key: principal for principal in self.principals.values()}

    def replace(self, principal: Principal) -> None:
        """Run ``principal`` (same role ARN) from now on: a test removes a statement this way."""
        self._by_key[principal.access_key] = principal

    def principal_for(self, access_key: str | None) -> Principal | None:
        return self._by_key.get(access_key or "")

    def _tagged(self, request: Authorization) -> Authorization:
        """The request with its resource's tags as ``aws:ResourceTag/<key>`` condition keys."""
        if request.resource == "*":
            return request
        tags = {f"aws:ResourceTag/{key}": value for key, value in self.resource_tags(request.resource).items()}
        return Authorization(request.action, request.resource, {**request.context, **tags}) if tags else request

    def check(self, principal: Principal, call: Call) -> Refusal | None:
        for request in map(self._tagged, authorizations(call, self.secret_arn)):
            decision = principal.decide(request)
            if not decision.allowed:
                refusal = Refusal(principal, request, decision.explicit_deny)
                with self._lock:
                    self.refusals.append(refusal)
                log.warning("IAM: %s", refusal.message)
                return refusal
            self._record(principal, request)
        return None

    def _record(self, principal: Principal, request: Authorization) -> None:
        """Each action a principal was allowed, once per statement that allowed it: the first call, and
        whether taking that statement out would have refused it (no other statement allows it)."""
        decision = principal.decide(request)
        label = decision.statement.label if decision.statement else ""
        entry = (principal.logical_id, request.action)
        with self._lock:
            if (*entry, label) in self._allowed_by:
                return
            self._allowed_by.add((*entry, label))
            self._used.add(entry)
        alone = bool(label) and not principal.without(label).decide(request).allowed
        if self.usage_file is not None:
            line = {
                "principal": entry[0],
                "action": entry[1],
                "resource": request.resource,
                "context": dict(request.context),
                "statement": label,
                "alone": alone,
            }
            with self._lock:
                self.usage_file.parent.mkdir(parents=True, exist_ok=True)
                with self.usage_file.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(line) + "\n")

    def usage(self) -> set[tuple[str, str]]:
        """``(role logical id, action)`` for every action allowed so far."""
        with self._lock:
            return set(self._used)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = _read_body(environ)
        call = read_call(environ, body)
        principal = self.principal_for(call.access_key) if call else None
        if call is None or principal is None:
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        refusal = self.check(principal, call)
        if refusal is not None:
            return _access_denied(call, refusal.message, start_response)
        if call.service == "s3" and call.key and call.method in {"GET", "HEAD"} and call.bucket:
            return self._s3_read(environ, start_response, principal, call)
        return self.app(environ, start_response)  # type: ignore[no-any-return]

    def _s3_read(
        self, environ: dict[str, Any], start_response: Any, principal: Principal, call: Call
    ) -> Iterable[bytes]:
        """A missing key is a 404 only to whom may list the bucket (S3 API reference, GetObject)."""
        listing = Authorization("s3:ListBucket", f"arn:aws:s3:::{call.bucket}", {"s3:prefix": call.key or ""})
        held: dict[str, Any] = {}

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            held.update(status=status, headers=headers)
            return lambda data: None

        answer = self.app(environ, hold)
        missing = str(held.get("status", "")).startswith("404")
        if missing and principal.decide(listing).allowed:
            self._record(principal, listing)  # the permission that made this a 404
        if not missing or principal.decide(listing).allowed:
            start_response(held["status"], held["headers"])
            return answer  # type: ignore[no-any-return]
        _close(answer)
        return _access_denied(call, "Access Denied", start_response)


def _close(answer: Any) -> None:
    close = getattr(answer, "close", None)
    if close is not None:
        close()


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, read once and put back for moto."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length <= 0 and environ.get("HTTP_TRANSFER_ENCODING", "").lower() != "chunked":
        return b""
    body: bytes = stream.read(length) if length > 0 else stream.read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return body


# The error code each service answers a refused call with.
_QUERY_CODES = {"sns": "AuthorizationError"}


def _access_denied(call: Call, message: str, start_response: Any) -> Iterator[bytes]:
    request_id = str(uuid.uuid4())
    protocol = call.protocol
    if protocol in {"rest-xml", "query"}:
        # S3's bare <Error>; the query services wrap it in <ErrorResponse> with the fault's side.
        code = _QUERY_CODES.get(call.service, "AccessDenied")
        error = f"<Error>{'' if protocol == 'rest-xml' else '<Type>Sender</Type>'}<Code>{code}</Code>"
        error += f"<Message>{_xml(message)}</Message>"
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n{error}<RequestId>{request_id}</RequestId></Error>'
            if protocol == "rest-xml"
            else f"<ErrorResponse>{error}</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        request_header = "x-amz-request-id" if protocol == "rest-xml" else "x-amzn-RequestId"
        headers = [("Content-Type", "application/xml"), (request_header, request_id)]
        status = "403 Forbidden"
    elif protocol == "json":
        body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id)]
        if call.service == "sqs":  # SQS answers JSON requests with its query-compatible error code
            headers.append(("x-amzn-query-error", "AccessDenied;Sender"))
        status = "400 Bad Request"
    else:
        body = json.dumps({"Type": "User", "message": message}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", "AccessDeniedException"),
            ("x-amzn-RequestId", request_id),
        ]
        status = "403 Forbidden"
    if call.method == "HEAD":
        body = b""
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return iter([body])


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
