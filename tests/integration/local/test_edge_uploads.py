"""CloudFront's upload behaviours, locally: a PUT to ``/jobs/*/input`` or ``/datasets/*/upload`` on the stack's
own address goes to the data bucket as CloudFront sends it to an S3 origin, and everything else to the gateway."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from sentiment_local.runtime.edge import Edge, behaviours, bucket_host
from sentiment_template.reader import Template
from tests.conftest import ROOT
from tests.integration.json_service import JsonService

TEMPLATE = Template.read(ROOT / "template.yaml", prefix="sentiment-dev")
DATA_HOST = "sentiment-dev-data-123456789012-us-east-1.s3.us-east-1.amazonaws.com"
SIGNED_QUERY = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA%2F20261207%2Fus-east-1%2Fs3%2Faws4_request"


def gateway(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    answered: Iterable[bytes] = Response(json.dumps({"gateway": Request(environ).path}))(environ, start_response)
    return answered


@pytest.fixture
def bucket() -> Iterator[tuple[JsonService, list[tuple[str, str, dict[str, str]]]]]:
    seen: list[tuple[str, str, dict[str, str]]] = []

    def answer(method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        seen.append((method, path, headers))
        return 200, {}

    service = JsonService(answer)
    yield service, seen
    service.close()


@pytest.mark.parametrize(
    ("path", "host"),
    [
        ("/jobs/j1/input", DATA_HOST),
        ("/datasets/tickets/upload", DATA_HOST),
        ("/jobs/j1", None),
        ("/jobs/j1/results", None),
        ("/jobs/j1/input/more", None),
        ("/datasets/tickets", None),
        ("/index.html", None),
    ],
)
def test_only_the_upload_paths_go_to_the_data_bucket(path: str, host: str | None) -> None:
    assert bucket_host(behaviours(TEMPLATE), path) == host


def test_an_upload_reaches_the_bucket_with_its_query_and_body_under_the_origin_host_and_no_viewer_header(
    bucket: tuple[JsonService, list[tuple[str, str, dict[str, str]]]],
) -> None:
    service, seen = bucket
    edge = Client(Edge(gateway, [], ordered=behaviours(TEMPLATE), s3_url=service.url))

    answer = edge.put(
        f"/jobs/j1/input?{SIGNED_QUERY}",
        data=b"text\nfine\n",
        headers={"Cookie": "session=1", "Authorization": "Bearer admin", "Origin": "https://example.org"},
    )

    assert answer.status_code == 200
    ((method, path, headers),) = seen
    assert (method, path) == ("PUT", f"/jobs/j1/input?{SIGNED_QUERY}")
    assert headers["host"] == DATA_HOST
    assert headers["content-length"] == "10"
    assert not {"cookie", "authorization", "origin"} & set(headers)
    # and an API path still reaches the gateway
    assert json.loads(edge.get("/jobs/j1").get_data()) == {"gateway": "/jobs/j1"}
