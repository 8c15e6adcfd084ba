"""The HTTP API, locally: the template's routes, HTTP API payload v2 events, its response mapping and CORS.

Routes with a Lambda authorizer run it first, as API Gateway does: 401 when an identity header is
missing or empty (the authorizer is not called), 403 when it answers ``isAuthorized: false``, 500
when it fails; what it allows reaches the route's function as ``requestContext.authorizer.lambda``.
An allowed answer is reused for the same identity values for the authorizer's ``ReauthorizeEvery``
seconds, as API Gateway caches it (none when 0, as for the admin key); a refusal is never reused here.

Requests that match no route fall through to the static web page (``frontend/``) on ``GET``; the
rest get API Gateway's ``{"message": "Not Found"}``.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.exceptions import NotFound
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

from sentiment_local.runtime.functions import Invocation
from sentiment_template.reader import ACCOUNT, REGION, Authorizer, Route

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP API's request payload quota
API_ID = "local"
TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
)
TEXT_SUFFIXES = ("+json", "+xml")


def _message(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps({"message": message}), status=status, headers=headers, content_type="application/json")


def _is_text(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith(TEXT_TYPES) or media.endswith(TEXT_SUFFIXES)


def http_api_event(request: Request, route: Route, path_parameters: dict[str, str], request_id: str) -> dict[str, Any]:
    """The payload v2 event API Gateway builds for one request."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        if key == "cookie":
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for name, values in request.args.lists():
        query[name] = ",".join(values)
    raw_path = request.environ.get("RAW_URI", request.full_path).split("?", 1)[0] or request.path
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": raw_path,
        "rawQueryString": request.query_string.decode("latin-1"),
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": request.host,
            "domainPrefix": request.host.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    cookies = [part.strip() for part in request.headers.get("Cookie", "").split(";") if part.strip()]
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)  # matched on request.path, which is already decoded
    body = request.get_data(cache=False)
    if body:
        try:
            if not _is_text(request.content_type or ""):
                raise UnicodeDecodeError("utf-8", body, 0, 1, "binary media type")
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def authorizer_event(authorizer: Authorizer, event: dict[str, Any]) -> dict[str, Any] | None:
    """The payload 2.0 REQUEST event for ``event``'s authorizer, or None when an identity header is missing."""
    headers: dict[str, str] = event.get("headers") or {}
    identity = [headers.get(name.lower(), "") for name in authorizer.identity_headers]
    if not all(value.strip() for value in identity):
        return None
    context = event["requestContext"]
    method, path = context["http"]["method"], context["http"]["path"]
    request = {key: value for key, value in event.items() if key not in {"body", "isBase64Encoded"}}
    return {
        **request,
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{context['apiId']}/{context['stage']}/{method}{path}",
        "identitySource": identity,
    }


class AuthorizerCache:
    """Allowed answers by authorizer and identity values, each kept for the authorizer's ``cache_seconds``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._allowed: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, authorizer: Authorizer, identity: list[str]) -> dict[str, Any] | None:
        with self._lock:
            kept = self._allowed.get((authorizer.name, tuple(identity)))
            if kept is None or kept[0] <= self._clock():
                return None
            return kept[1]

    def put(self, authorizer: Authorizer, identity: list[str], context: dict[str, Any]) -> None:
        if authorizer.cache_seconds <= 0:
            return
        with self._lock:
            now = self._clock()
            self._allowed = {key: kept for key, kept in self._allowed.items() if kept[0] > now}
            self._allowed[(authorizer.name, tuple(identity))] = (now + authorizer.cache_seconds, context)


def authorize(
    authorizer: Authorizer,
    event: dict[str, Any],
    invoke: Callable[[str, dict[str, Any]], Invocation],
    cache: AuthorizerCache | None = None,
) -> Response | dict[str, Any]:
    """API Gateway's refusal, or the context the authorizer allowed the request with."""
    request = authorizer_event(authorizer, event)
    if request is None:
        return _message(401, "Unauthorized")
    if cache is not None and (kept := cache.get(authorizer, request["identitySource"])) is not None:
        return kept
    outcome = invoke(authorizer.function, request)
    answer = None if outcome.failed else outcome.result()
    if not isinstance(answer, dict) or not isinstance(answer.get("isAuthorized"), bool):
        log.error("authorizer %s failed or gave no isAuthorized: %s", authorizer.name, outcome.error or outcome.payload)
        return _message(500, "Internal Server Error")
    if not answer["isAuthorized"]:
        return _message(403, "Forbidden")
    context = answer.get("context") or {}
    allowed = context if isinstance(context, dict) else {}
    if cache is not None:
        cache.put(authorizer, request["identitySource"], allowed)
    return allowed


def to_response(outcome: Invocation) -> Response:
    """Map a function's answer back as HTTP API does for payload v2."""
    if outcome.failed:
        if (outcome.error or {}).get("errorType") == "Sandbox.Timedout":
            return _message(503, "Service Unavailable")
        return _message(500, "Internal Server Error")
    result = outcome.result()
    if not isinstance(result, dict) or "statusCode" not in result:
        return Response(outcome.payload, status=200, content_type="application/json")
    try:
        status = int(result["statusCode"])
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    except (TypeError, ValueError):
        return _message(500, "Internal Server Error")
    response = Response(data, status=status)
    response.headers.remove("Content-Type")
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response


@dataclass
class Cors:
    """The HTTP API's ``CorsConfiguration``: API Gateway answers preflights and sets these headers itself."""

    origins: list[str]
    methods: list[str]
    headers: list[str]
    expose: list[str]
    max_age: int | None
    credentials: bool

    @classmethod
    def of(cls, config: dict[str, Any]) -> Cors | None:
        if not config:
            return None
        return cls(
            origins=[str(origin) for origin in config.get("AllowOrigins", [])],
            methods=[str(method).upper() for method in config.get("AllowMethods", [])],
            headers=[str(header).lower() for header in config.get("AllowHeaders", [])],
            expose=[str(header) for header in config.get("ExposeHeaders", [])],
            max_age=int(config["MaxAge"]) if "MaxAge" in config else None,
            credentials=bool(config.get("AllowCredentials", False)),
        )

    def allowed_origin(self, origin: str | None) -> str | None:
        if not origin:
            return None
        if "*" in self.origins:
            return "*"
        return origin if origin in self.origins else None

    def preflight(self, request: Request) -> Response:
        response = Response(status=204)
        origin = self.allowed_origin(request.headers.get("Origin"))
        method = request.headers.get("Access-Control-Request-Method", "").upper()
        if origin and ("*" in self.methods or method in self.methods):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = ",".join(self.methods)
            asked = request.headers.get("Access-Control-Request-Headers", "")
            if self.headers:
                response.headers["Access-Control-Allow-Headers"] = (
                    asked if "*" in self.headers else ",".join(self.headers)
                )
            if self.max_age is not None:
                response.headers["Access-Control-Max-Age"] = str(self.max_age)
            if self.credentials:
                response.headers["Access-Control-Allow-Credentials"] = "true"
            if origin != "*":
                response.headers["Vary"] = "Origin"
        return response

    def decorate(self, request: Request, response: Response) -> None:
        for name in [name for name in response.headers.keys() if name.lower().startswith("access-control-")]:  # noqa: SIM118 - a multidict
            del response.headers[name]
        origin = self.allowed_origin(request.headers.get("Origin"))
        if origin is None:
            return
        response.headers["Access-Control-Allow-Origin"] = origin
        if self.expose:
            response.headers["Access-Control-Expose-Headers"] = ",".join(self.expose)
        if self.credentials:
            response.headers["Access-Control-Allow-Credentials"] = "true"
        if origin != "*":
            response.headers.add("Vary", "Origin")


class Gateway:
    """A WSGI application: the HTTP API in front of the functions, and the web page."""

    def __init__(
        self,
        routes: list[Route],
        invoke: Callable[[str, dict[str, Any]], Invocation],
        cors: Cors | None,
        static_dir: Path | None = None,
    ) -> None:
        self._routes = sorted(routes, key=lambda route: route.specificity, reverse=True)
        self._invoke = invoke
        self._cors = cors
        self._static_dir = static_dir
        self._authorizer_cache = AuthorizerCache()

    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._routes:
            parameters = route.match(method, path)
            if parameters is not None:
                return route, parameters
        return None

    def handle(self, request: Request) -> Response:
        request_id = uuid.uuid4().hex[:16]
        response = self._respond(request, request_id)
        response.headers["Apigw-Requestid"] = request_id
        return response

    def _respond(self, request: Request, request_id: str) -> Response:
        if (request.content_length or 0) > MAX_PAYLOAD_BYTES:
            return _message(413, "Request Entity Too Large")
        if self._cors and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return self._cors.preflight(request)
        matched = self.route(request.method, request.path)
        if matched is None:
            response = self._static(request)
        else:
            route, parameters = matched
            event = http_api_event(request, route, parameters, request_id)
            response = self._call(route, event)
        if self._cors:
            self._cors.decorate(request, response)
        return response

    def _call(self, route: Route, event: dict[str, Any]) -> Response:
        if route.authorizer is not None:
            allowed = authorize(route.authorizer, event, self._invoke, self._authorizer_cache)
            if isinstance(allowed, Response):
                return allowed
            event["requestContext"]["authorizer"] = {"lambda": allowed}
        return to_response(self._invoke(route.function, event))

    def _static(self, request: Request) -> Response:
        if request.method not in {"GET", "HEAD"} or self._static_dir is None:
            return _message(404, "Not Found")
        path = request.path.lstrip("/") or "index.html"
        try:
            response: Response = send_from_directory(self._static_dir, path, request.environ)
        except NotFound:
            return _message(404, "Not Found")
        return response

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        started = time.perf_counter()
        response = self.handle(request)
        log.info(
            "%s %s %d %.0f ms",
            request.method,
            request.full_path.rstrip("?"),
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        result: Iterable[bytes] = response(environ, start_response)
        return result
