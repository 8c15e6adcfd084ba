"""IAM, enforced from the template: each principal runs with the role CloudFormation would give it,
and each AWS call it makes is checked, action and resource, before moto answers it.

- **The roles** (:mod:`sentiment_template.policies`, which the deployer reads too). SAM's own translator
  (samtranslator) turns ``template.yaml`` into CloudFormation, as ``sam deploy`` does: every function
  gets its ``<LogicalId>Role`` with the policy templates expanded and SAM's managed policies attached,
  the state machine its ``<LogicalId>Role``; the template's own ``AWS::IAM::Role`` resources (training,
  SageMaker execution, ECS task) come as written. Intrinsic functions and conditions are then resolved
  with the local stack's names and parameters.
- **Who is calling.** A principal signs its requests with an access key derived from its role's ARN
  (:func:`~sentiment_template.policies.access_key_for`), as a Lambda function, a state machine, a
  training job or a container gets its role's credentials on AWS. The person who deploys signs with
  :data:`~sentiment_template.policies.DEPLOYER_ARN`'s key and is checked against
  ``deploy/deployer-policies/``; what CloudFormation does on a stack deployed with the service role
  (deleting its resources) is signed with :data:`~sentiment_template.policies.SERVICE_ROLE_ARN`'s key
  and checked against the role's policies in ``deploy/service-role/template.yaml``. Any other key (the
  local stack itself, tests, the AWS CLI) is an administrator's: not checked.
- **The check.** :class:`Enforcer` sits in front of moto's server. It reads the request
  (:mod:`sentiment_local.iam.actions` says which actions on which resources it needs) and evaluates the
  principal's policies as IAM does (IAM user guide, "Policy evaluation logic": an explicit deny wins,
  then an allow, else the implicit deny), with wildcards, ``NotAction``/``NotResource`` and the
  string, ARN and Bool condition operators; ``aws:ResourceTag/<key>`` is the resource's tag where
  :func:`sentiment_local.moto.data.resource_tags` knows it (a CloudFront distribution). A refused call
  gets AWS's ``AccessDenied`` in the service's own error format, with AWS's message, so the SDK raises
  what it raises on AWS.
- **S3's 404.** ``GetObject``/``HeadObject`` on a key that does not exist answer 404 only to a principal
  that may ``s3:ListBucket`` the bucket, 403 otherwise (S3 API reference, GetObject, "Permissions").

What is not enforced: resource-based policies (bucket policies, Lambda permissions, KMS key policies),
service control policies and permissions boundaries (the stack's roles' boundary allows all they are
granted, by construction: :func:`sentiment_deploy.policy.boundary_policy`); service principals (S3
invoking a function, API Gateway invoking a function or its authorizer) are trusted. Every allowed
action is recorded per principal (:meth:`Enforcer.usage`), for the least-privilege report.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment_local.iam.actions import Call, authorizations, read_call, reads_body
from sentiment_template.policies import Authorization, Principal, access_key_for

log = logging.getLogger(__name__)

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

    def authorize(self, role_arn: str, action: str, resource: str) -> str | None:
        """A call a service makes with a role outside any request (a Distributed Map starting its
        children with the state machine's role): checked as if the role had signed it; the refusal's
        message, or ``None`` when allowed (and for a role the stack does not know: not checked)."""
        principal = self.principal_for(access_key_for(role_arn))
        if principal is None:
            return None
        request = self._tagged(Authorization(action, resource))
        decision = principal.decide(request)
        if not decision.allowed:
            refusal = Refusal(principal, request, decision.explicit_deny)
            with self._lock:
                self.refusals.append(refusal)
            log.warning("IAM: %s", refusal.message)
            return refusal.message
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
        call = read_call(environ, _read_body(environ) if reads_body(environ) else b"")
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
