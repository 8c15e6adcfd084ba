"""CloudFront's part, locally: the template's AWS WAF web ACL in front of the gateway.

On AWS every request to the page or the API passes CloudFront, where the web ACL (``ClientWebAcl``)
counts each client IP's requests with rate-based rules and blocks a client over a rule's limit with the
rule's custom response. Locally :class:`Edge` wraps the gateway and does the same, reading the rules
from the template (limit, evaluation window, scope-down statement, custom response), so what the
template says is what ``make up`` enforces:

- a rule counts each request its scope-down statement matches (every request without one), per client,
  over the evaluation window looking back from now (AWS WAF developer guide, "Rate-based rule high-level
  settings"); a request that takes the count past the limit, and every one after it while the count
  stays past it, gets the rule's block response. Requests a rule blocks still count, as WAF keeps
  counting a client it blocks. Rules run in priority order and the first block ends the evaluation.
- a limit below 10, or a window other than 60, 120, 300 or 600 s, is refused when the stack starts, as
  WAF refuses it (AWS WAF API reference, ``RateBasedStatement``).
- the client is the request's source address; behind a proxy of one's own (``LOCAL_BEHIND_PROXY``) it is
  the first address of ``X-Forwarded-For``, as CloudFront sees the viewer's own address.

CloudFront also adds the origin's custom headers (``OriginCustomHeaders``) to each request it forwards,
replacing a header of the same name the viewer sent (CloudFront developer guide, "Adding custom headers
to origin requests"); the template's value is a dynamic reference to a secret, resolved here from the
local Secrets Manager as CloudFormation resolves it. The HTTP API then refuses a request without the
header (its origin authorizer), so the gateway's own routes are reached only through this front door.

CloudFront sends a request to the origin of the first cache behaviour whose path pattern matches it
(CloudFront developer guide, "Path pattern": ``*`` matches any characters, ``/`` included, ``?`` one;
case-sensitive; behaviours in the order listed, then the default). The gateway stands for the API's
behaviours and the page's bucket. A behaviour whose origin is an S3 bucket reached without origin access
control (the uploads: ``/jobs/*/input``, ``/datasets/*/upload``) is forwarded to the local S3 as CloudFront
forwards it: the path as it came, the query string, the body, and the origin's domain as the ``Host``
header, which the presigned signature covers (CloudFront developer guide, "How origin request policies
and cache policies work together": an origin request policy that forwards no viewer header leaves the
``Host`` the origin's domain). No viewer header or cookie goes with it, as the template's
``UploadOriginRequestPolicy`` says. S3's answer goes back to the viewer as it came.

Where it differs from AWS: WAF counts approximately and checks the rates about every 10 s, so on AWS a
client can go past the limit for up to about 30 s before it is blocked, and is let through again within
about as long once its count falls back; locally the count is exact and acts on the very next request.
Only the statements the template uses are evaluated (``AndStatement``, ``OrStatement``, ``NotStatement``,
``ByteMatchStatement`` on the method or the URI path): anything else is refused at start. CloudFront adds
its origin headers to the page's requests too, which on AWS go to the bucket without them; the page
does not read them.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import LimitedStream

from sentiment_template.reader import Template

log = logging.getLogger(__name__)

WEB_ACL_TYPE = "AWS::WAFv2::WebACL"
WINDOWS = (60, 120, 300, 600)  # EvaluationWindowSec's valid settings
LEAST_LIMIT = 10  # RateBasedStatement's Limit: 10 to 2,000,000,000
CONTENT_TYPES = {"APPLICATION_JSON": "application/json", "TEXT_PLAIN": "text/plain", "TEXT_HTML": "text/html"}


class WebAclError(ValueError):
    """A web ACL WAF would refuse, or one the local stack cannot evaluate; the message says which."""


# ---- statements ----


def _field(request: Request, field_to_match: Mapping[str, Any]) -> str:
    if "Method" in field_to_match:
        return request.method
    if "UriPath" in field_to_match:
        return request.path
    raise WebAclError(f"FieldToMatch {sorted(field_to_match)} is not evaluated locally (Method and UriPath are)")


def _transformed(text: str, transformations: Iterable[Mapping[str, Any]]) -> str:
    for transformation in sorted(transformations, key=lambda item: int(item.get("Priority", 0))):
        kind = transformation.get("Type", "NONE")
        if kind == "LOWERCASE":
            text = text.lower()
        elif kind != "NONE":
            raise WebAclError(f"text transformation {kind} is not evaluated locally (NONE and LOWERCASE are)")
    return text


_POSITIONS: dict[str, Callable[[str, str], bool]] = {
    "EXACTLY": lambda text, search: text == search,
    "STARTS_WITH": str.startswith,
    "ENDS_WITH": str.endswith,
    "CONTAINS": lambda text, search: search in text,
}


def matches(statement: Mapping[str, Any], request: Request) -> bool:
    """Whether ``request`` matches one WAF statement (AWS WAF developer guide, "Rule statements")."""
    ((kind, body),) = statement.items()
    if kind == "AndStatement":
        return all(matches(item, request) for item in body["Statements"])
    if kind == "OrStatement":
        return any(matches(item, request) for item in body["Statements"])
    if kind == "NotStatement":
        return not matches(body["Statement"], request)
    if kind == "ByteMatchStatement":
        text = _transformed(_field(request, body["FieldToMatch"]), body.get("TextTransformations", []))
        return _POSITIONS[body["PositionalConstraint"]](text, str(body["SearchString"]))
    raise WebAclError(f"{kind} is not evaluated locally")


def check_statement(statement: Mapping[str, Any]) -> None:
    """Refuse, at start, a statement :func:`matches` could not evaluate."""
    if len(statement) != 1:
        raise WebAclError(f"a statement holds exactly one kind, not {sorted(statement)}")
    ((kind, body),) = statement.items()
    if kind in {"AndStatement", "OrStatement"}:
        for item in body["Statements"]:
            check_statement(item)
    elif kind == "NotStatement":
        check_statement(body["Statement"])
    elif kind == "ByteMatchStatement":
        if body.get("PositionalConstraint") not in _POSITIONS:
            raise WebAclError(f"PositionalConstraint {body.get('PositionalConstraint')} is not evaluated locally")
        probe = Request.from_values("/", method="GET")
        _field(probe, body["FieldToMatch"])
        _transformed("", body.get("TextTransformations", []))
    else:
        raise WebAclError(f"{kind} is not evaluated locally")


# ---- rules ----


@dataclass(frozen=True)
class BlockResponse:
    """A block action's custom response: status, body and headers."""

    status: int
    body: str
    content_type: str
    headers: tuple[tuple[str, str], ...]

    def response(self) -> Response:
        response = Response(self.body, status=self.status, content_type=self.content_type)
        for name, value in self.headers:
            response.headers[name] = value
        return response


@dataclass
class RateRule:
    """One rate-based rule: at most ``limit`` matching requests per client in any ``window`` seconds."""

    name: str
    priority: int
    limit: int
    window: int
    scope_down: Mapping[str, Any] | None
    block: BlockResponse
    _seen: dict[str, deque[float]] = field(default_factory=dict, repr=False)

    def counts(self, request: Request) -> bool:
        return self.scope_down is None or matches(self.scope_down, request)

    def over_limit(self, client: str, now: float) -> bool:
        """Count one request of ``client`` at ``now``; whether the client is then past the limit.

        Only the newest ``limit + 1`` times are kept: the client is past the limit exactly when the
        oldest of them is still inside the window."""
        times = self._seen.setdefault(client, deque(maxlen=self.limit + 1))
        times.append(now)
        return len(times) > self.limit and times[0] > now - self.window

    def forget_before(self, moment: float) -> None:
        """Drop the clients whose last request is older than ``moment``: they count nothing any more."""
        for client in [client for client, times in self._seen.items() if times[-1] <= moment]:
            del self._seen[client]


def _block_response(action: Mapping[str, Any], bodies: Mapping[str, Any], rule: str) -> BlockResponse:
    if "Block" not in action:
        raise WebAclError(f"rule {rule}: only Block actions run locally, not {sorted(action)}")
    custom = (action["Block"] or {}).get("CustomResponse")
    if not custom:
        return BlockResponse(403, "", "text/plain", ())  # WAF's own block: 403, no body
    key = custom.get("CustomResponseBodyKey")
    body = bodies.get(key, {}) if key else {}
    if key and not body:
        raise WebAclError(f"rule {rule}: CustomResponseBodyKey {key} is not among CustomResponseBodies")
    headers = tuple((str(header["Name"]), str(header["Value"])) for header in custom.get("ResponseHeaders", []))
    content_type = CONTENT_TYPES[body.get("ContentType", "TEXT_PLAIN")]
    return BlockResponse(int(custom["ResponseCode"]), str(body.get("Content", "")), content_type, headers)


def rate_rule(rule: Mapping[str, Any], bodies: Mapping[str, Any]) -> RateRule:
    """A resolved ``Rules`` entry as a :class:`RateRule`, refused as WAF or the local stack would refuse it."""
    name = str(rule["Name"])
    statement = rule["Statement"]
    if set(statement) != {"RateBasedStatement"}:
        raise WebAclError(f"rule {name}: only rate-based rules run locally, not {sorted(statement)}")
    rate = statement["RateBasedStatement"]
    if rate.get("AggregateKeyType", "IP") != "IP":
        raise WebAclError(f"rule {name}: only AggregateKeyType IP runs locally, not {rate['AggregateKeyType']}")
    limit, window = int(rate["Limit"]), int(rate.get("EvaluationWindowSec", 300))
    if limit < LEAST_LIMIT:
        raise WebAclError(f"rule {name}: a rate-based rule's Limit must be {LEAST_LIMIT} or more, not {limit}")
    if window not in WINDOWS:
        raise WebAclError(f"rule {name}: EvaluationWindowSec must be one of {WINDOWS}, not {window}")
    scope_down = rate.get("ScopeDownStatement")
    if scope_down is not None:
        check_statement(scope_down)
    block = _block_response(rule["Action"], bodies, name)
    return RateRule(name, int(rule["Priority"]), limit, window, scope_down, block)


def web_acl_rules(template: Template) -> list[RateRule]:
    """The rules of the template's web ACL for CloudFront, in priority order; none when it is not created."""
    rules: list[RateRule] = []
    for logical_id, resource in template.of_type(WEB_ACL_TYPE).items():
        if not template.condition_holds(resource.get("Condition")):
            continue
        # Only what the rules need: the rest (the ACL's name, its metrics) names AWS-side things.
        wanted = ("Scope", "DefaultAction", "CustomResponseBodies", "Rules")
        properties = template.resolve({key: resource["Properties"].get(key) for key in wanted})
        if properties.get("Scope") != "CLOUDFRONT":
            continue
        if "Allow" not in properties.get("DefaultAction", {}):
            raise WebAclError(f"{logical_id}: only a web ACL whose default action is Allow runs locally")
        bodies = properties.get("CustomResponseBodies", {})
        rules.extend(rate_rule(rule, bodies) for rule in properties.get("Rules", []))
    return sorted(rules, key=lambda rule: rule.priority)


# ---- CloudFront's origin headers ----

DISTRIBUTION_TYPE = "AWS::CloudFront::Distribution"
# {{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}, the id a name or an
# ARN (CloudFormation user guide, "Get values stored in other services using dynamic references").
_SECRET_REFERENCE = re.compile(
    r"\{\{resolve:secretsmanager:(?P<id>arn:[^:]*:secretsmanager:[^:]*:[^:]*:secret:[^:}]+|[^:}]+)"
    r"(?::SecretString(?::(?P<key>[^:}]*))?(?::[^}]*)?)?\}\}"
)


def resolve_secret_references(text: str, secret_value: Callable[[str], str]) -> str:
    """``text`` with each Secrets Manager dynamic reference replaced by the secret's value (or its JSON key)."""

    def replace(reference: re.Match[str]) -> str:
        value = secret_value(reference["id"])
        return str(json.loads(value)[reference["key"]]) if reference["key"] else value

    return _SECRET_REFERENCE.sub(replace, text)


def origin_headers(template: Template, secret_value: Callable[[str], str]) -> dict[str, str]:
    """The custom headers the template's distribution adds to what it forwards to its API (custom) origin."""
    headers: dict[str, str] = {}
    for resource in template.of_type(DISTRIBUTION_TYPE).values():
        if not template.condition_holds(resource.get("Condition")):
            continue
        for origin in resource["Properties"]["DistributionConfig"].get("Origins", []):
            if "CustomOriginConfig" not in origin:
                continue
            for header in template.resolve(origin.get("OriginCustomHeaders", [])):
                value = resolve_secret_references(str(header["HeaderValue"]), secret_value)
                headers[str(header["HeaderName"])] = value
    return headers


# ---- CloudFront's behaviours: which origin a path goes to ----

FORWARD_CHUNK = 1 << 20
# S3's answers that say something a viewer needs; hop-by-hop headers stay behind.
S3_ANSWER_HEADERS = ("Content-Type", "ETag", "x-amz-request-id", "x-amz-version-id")


@dataclass(frozen=True)
class Behaviour:
    """One ordered cache behaviour: its path pattern, and the bucket host it forwards to (None: the
    gateway, which serves the API's behaviours and the page's own bucket)."""

    pattern: str
    bucket_host: str | None


def behaviours(template: Template) -> list[Behaviour]:
    """The distribution's cache behaviours in CloudFront's order of evaluation."""
    found: list[Behaviour] = []
    for resource in template.of_type(DISTRIBUTION_TYPE).values():
        if not template.condition_holds(resource.get("Condition")):
            continue
        config = resource["Properties"]["DistributionConfig"]
        hosts = {
            str(origin["Id"]): str(template.resolve(origin["DomainName"]))
            for origin in config.get("Origins", [])
            if "S3OriginConfig" in origin and "OriginAccessControlId" not in origin
        }
        for behaviour in config.get("CacheBehaviors", []):
            found.append(Behaviour(str(behaviour["PathPattern"]), hosts.get(str(behaviour["TargetOriginId"]))))
    return found


def bucket_host(ordered: Iterable[Behaviour], path: str) -> str | None:
    """The bucket host the first behaviour matching ``path`` forwards to; None for the gateway."""
    for behaviour in ordered:
        if fnmatchcase(path, behaviour.pattern):
            return behaviour.bucket_host
    return None


def forward_to_bucket(environ: dict[str, Any], host: str, s3_url: str) -> Response:
    """The request as CloudFront forwards it to an S3 origin (path, query, body; ``Host`` the origin's
    domain), sent to the local S3 at ``s3_url``; S3's answer."""
    target = urlsplit(s3_url)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw_uri = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/"))
    path = raw_uri.split("?", 1)[0]
    query = str(environ.get("QUERY_STRING", ""))
    connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=300)
    try:
        connection.putrequest(str(environ["REQUEST_METHOD"]), f"{path}?{query}" if query else path, skip_host=True)
        connection.putheader("Host", host)
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        body = LimitedStream(environ["wsgi.input"], length)
        while chunk := body.read(FORWARD_CHUNK):
            connection.send(chunk)
        answer = connection.getresponse()
        content = answer.read()
        headers = {name: str(answer.getheader(name)) for name in S3_ANSWER_HEADERS if answer.getheader(name)}
        return Response(content, status=answer.status, headers=headers)
    finally:
        connection.close()


# ---- the edge ----


def client_address(request: Request, behind_proxy: bool) -> str:
    """The client a rate counts: the source address, or ``X-Forwarded-For``'s first hop behind a proxy."""
    if behind_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",", 1)[0].strip()
        if forwarded:
            return forwarded
    return request.remote_addr or "127.0.0.1"


class Edge:
    """A WSGI application: the web ACL's rules, then, for what they let through, the bucket for a behaviour
    that forwards there (``ordered``, to the local S3 at ``s3_url``), else ``app`` (the gateway) with
    CloudFront's origin headers added."""

    def __init__(
        self,
        app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
        rules: list[RateRule],
        *,
        behind_proxy: bool = False,
        clock: Callable[[], float] = time.monotonic,
        added_headers: Mapping[str, str] | None = None,
        ordered: Iterable[Behaviour] = (),
        s3_url: str = "",
    ) -> None:
        self._app = app
        self._behaviours = list(ordered)
        self._s3_url = s3_url
        self._rules = rules
        # WSGI's names for the headers CloudFront adds; a viewer's header of the same name is replaced.
        self._added = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in (added_headers or {}).items()}
        self._behind_proxy = behind_proxy
        self._clock = clock
        self._lock = threading.Lock()
        self._swept = clock()

    def blocked(self, request: Request) -> Response | None:
        """The block response of the first rule ``request`` takes past its limit, counting it in each rule
        it reaches; None when every rule lets it through."""
        client = client_address(request, self._behind_proxy)
        with self._lock:
            now = self._clock()
            self._sweep(now)
            for rule in self._rules:
                if rule.counts(request) and rule.over_limit(client, now):
                    log.info("%s %s %d: %s over %s", request.method, request.path, rule.block.status, client, rule.name)
                    return rule.block.response()
        return None

    def _sweep(self, now: float) -> None:
        """Forget, now and then, the clients every window has left behind, so memory follows the clients
        of the last window, not of the stack's life."""
        longest = max((rule.window for rule in self._rules), default=0)
        if now - self._swept < longest:
            return
        for rule in self._rules:
            rule.forget_before(now - rule.window)
        self._swept = now

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self._rules:
            refusal = self.blocked(Request(environ))
            if refusal is not None:
                answered: Iterable[bytes] = refusal(environ, start_response)
                return answered
        host = bucket_host(self._behaviours, str(environ.get("PATH_INFO", "/")))
        if host is not None:
            forwarded: Iterable[bytes] = forward_to_bucket(environ, host, self._s3_url)(environ, start_response)
            return forwarded
        environ.update(self._added)
        return self._app(environ, start_response)
