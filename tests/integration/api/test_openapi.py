"""The OpenAPI document is generated from the routes; the committed copy must match it."""

from __future__ import annotations

import json

from api_function.openapi import openapi_document
from tests.conftest import ROOT
from tests.integration.api.conftest import Stack

COMMITTED = ROOT / "functions" / "api" / "openapi.json"
ROUTES = {
    ("post", "/comments"),
    ("post", "/comments/batch"),
    ("get", "/comments"),
    ("get", "/comments/{comment_id}"),
    ("get", "/comments/{comment_id}/explanation"),
    ("post", "/feedback"),
    ("get", "/health"),
    ("get", "/monitoring"),
    ("get", "/models"),
    ("get", "/models/{version}"),
    ("post", "/models/{version}/promote"),
    ("post", "/training"),
    ("get", "/training"),
    ("get", "/training/{run_id}"),
    ("post", "/reviewers"),
    ("get", "/reviewers"),
    ("delete", "/reviewers/{name}"),
    ("post", "/reviewers/{name}/withdraw"),
    ("post", "/reviews"),
    ("post", "/datasets"),
    ("get", "/datasets"),
    ("get", "/datasets/{name}"),
    ("delete", "/datasets/{name}"),
    ("post", "/jobs"),
    ("get", "/jobs"),
    ("get", "/jobs/{job_id}"),
    ("get", "/jobs/{job_id}/results"),
    ("post", "/jobs/{job_id}/cancel"),
    ("post", "/jobs/{job_id}/resume"),
}


def test_the_committed_document_matches_the_routes(stack: Stack) -> None:
    generated = json.loads(openapi_document(stack.api.app))
    assert generated == json.loads(COMMITTED.read_text()), "run `make openapi` and commit functions/api/openapi.json"


def test_every_route_is_documented_and_served(api: Stack) -> None:
    served = api.call("GET", "/openapi.json")
    assert served.status == 200
    documented = {(method, path) for path, item in served.body["paths"].items() for method in item}
    assert documented == ROUTES


def test_every_template_route_is_a_documented_route(stack: Stack) -> None:
    events = stack.template.resources["ApiFunction"]["Properties"]["Events"].values()
    in_template = {(event["Properties"]["Method"].lower(), event["Properties"]["Path"]) for event in events}
    assert in_template == ROUTES | {("get", "/openapi.json")}


def test_the_admin_and_reviewer_routes_declare_their_key(stack: Stack) -> None:
    paths = json.loads(openapi_document(stack.api.app))["paths"]

    reviewer_management = [paths["/reviewers"]["post"], paths["/reviewers"]["get"]]
    reviewer_management += [paths["/reviewers/{name}"]["delete"], paths["/reviewers/{name}/withdraw"]["post"]]

    assert all(operation["security"] == [{"adminKey": []}] for operation in reviewer_management)
    assert paths["/reviews"]["post"]["security"] == [{"reviewerKey": []}]
    datasets = [paths["/datasets"]["post"], paths["/datasets"]["get"]]
    datasets += [paths["/datasets/{name}"]["get"], paths["/datasets/{name}"]["delete"]]
    assert all(operation["security"] == [{"adminKey": []}] for operation in datasets)
    jobs = [operation for path, item in paths.items() if path.startswith("/jobs") for operation in item.values()]
    assert len(jobs) == 6 and all(operation["security"] == [{"adminKey": []}] for operation in jobs)
    assert "security" not in paths["/feedback"]["post"]


def test_every_post_documents_what_the_body_guard_answers(api: Stack) -> None:
    """Every POST runs behind the body guard, which refuses a body that is not UTF-8 JSON (400), too large
    (413) or of another type (415) before the route's handler: each POST documents all three."""
    paths = json.loads(openapi_document(api.api.app))["paths"]
    posts = {path: item["post"]["responses"] for path, item in paths.items() if "post" in item}
    assert posts and all({"400", "413", "415"} <= set(responses) for responses in posts.values()), {
        path: sorted({"400", "413", "415"} - set(responses)) for path, responses in posts.items()
    }
    headers = {"Authorization": f"Bearer {api.admin_key}"}
    # What the fuzzer sent an admin route: a body that is not JSON.
    assert api.call("POST", "/jobs", headers=headers, raw_body=b"\x00").status == 400
    assert api.call("POST", "/jobs", headers={**headers, "content-type": "text/plain"}, raw_body=b"{}").status == 415
