"""Every committed API event gets the status its file name ends with; every authorizer event, the
decision its name ends with."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.api.conftest import AUTHORIZERS, LambdaContext, Stack

EVENTS = sorted((ROOT / "events").glob("api-*.json"))


@pytest.mark.parametrize("path", EVENTS, ids=[path.stem for path in EVENTS])
def test_event_gets_the_status_in_its_name(api: Stack, path: Path) -> None:
    expected = int(re.fullmatch(r".*-(\d{3})", path.stem).group(1))  # type: ignore[union-attr]
    event = json.loads(path.read_text())

    result = api.api.lambda_handler(event, LambdaContext())

    assert result["statusCode"] == expected, result.get("body")
    assert event["version"] == "2.0"


def test_every_route_has_a_good_and_a_bad_event() -> None:
    routes: dict[str, set[int]] = {}
    for path in EVENTS:
        event = json.loads(path.read_text())
        routes.setdefault(event["routeKey"], set()).add(int(path.stem.rsplit("-", 1)[1]))
    for route, statuses in routes.items():
        # Lookups have no bad input but an unknown id; promoting needs a registered version, revoking and
        # withdrawing a created reviewer; a job's routes, a submitted job.
        if route not in {
            "GET /health",
            "GET /openapi.json",
            "GET /comments/{comment_id}",
            "GET /comments/{comment_id}/explanation",
            "GET /models",
            "GET /models/{version}",
            "GET /training/{run_id}",
            "POST /models/{version}/promote",
            "DELETE /reviewers/{name}",
            "POST /reviewers/{name}/withdraw",
            "GET /datasets/{name}",
            "DELETE /datasets/{name}",
            "GET /jobs/{job_id}",
            "GET /jobs/{job_id}/results",
            "POST /jobs/{job_id}/cancel",
            "POST /jobs/{job_id}/resume",
        }:
            assert any(s < 300 for s in statuses) and any(s >= 400 for s in statuses), route


# Each authorizer's events, by the start of their file names: the function that gets them, and the header
# that is its identity source.
AUTHORIZER_EVENTS = {
    "authorizer-": ("AdminAuthorizerFunction", "authorization"),
    "reviewer-authorizer-": ("ReviewerAuthorizerFunction", "authorization"),
    "origin-authorizer-": ("OriginAuthorizerFunction", "x-origin-verify"),
}
AUTHORIZER_EVENT_FILES = sorted(
    path for prefix in AUTHORIZER_EVENTS for path in (ROOT / "events").glob(f"{prefix}*.json")
)


@pytest.mark.parametrize("path", AUTHORIZER_EVENT_FILES, ids=[path.stem for path in AUTHORIZER_EVENT_FILES])
def test_authorizer_event_gets_the_decision_in_its_name(api: Stack, path: Path) -> None:
    function, identity = next(found for prefix, found in AUTHORIZER_EVENTS.items() if path.name.startswith(prefix))
    expected = {"allowed": True, "refused": False}[path.stem.rsplit("-", 1)[1]]
    event = json.loads(path.read_text())

    result = AUTHORIZERS[function].lambda_handler(event, LambdaContext(function))

    assert result["isAuthorized"] is expected
    assert (event["version"], event["type"]) == ("2.0", "REQUEST")
    assert event["identitySource"] == [event["headers"][identity]]


def test_every_authorizer_has_events() -> None:
    def routes(prefix: str) -> set[str]:
        return {json.loads(path.read_text())["routeKey"] for path in (ROOT / "events").glob(f"{prefix}*.json")}

    assert routes("authorizer-") == {"POST /training", "POST /models/{version}/promote"}
    assert routes("reviewer-authorizer-") == {"POST /reviews"}
    assert routes("origin-authorizer-")


def test_the_s3_event_names_a_feedback_object() -> None:
    record = json.loads((ROOT / "events" / "s3-feedback-object-created.json").read_text())["Records"][0]
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["object"]["key"].startswith("feedback/")
