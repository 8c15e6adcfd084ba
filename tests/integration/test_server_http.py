"""The model server over real HTTP, serving each kind of artifact: the SageMaker serving contract,
good and bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest

from sentiment_model.encoder_graph import GRAPHS
from sentiment_model.serving import MAX_BODY_BYTES
from tests.integration.conftest import model_env, running_server, wait_for_ping

# Starts model servers or training jobs: make check leaves it out.
pytestmark = pytest.mark.processes


@pytest.fixture(scope="module", params=["model_dir", "tfidf_model_dir"], ids=["encoder", "tfidf"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, object]]]:
    """A server over each kind of model folder, and that folder's metadata."""
    folder: Path = request.getfixturevalue(request.param)
    with running_server(model_env(folder)) as (url, _):
        assert wait_for_ping(url).status_code == 200
        yield url, json.loads((folder / "metadata.json").read_text())


@pytest.fixture(scope="module")
def server(served: tuple[str, dict[str, object]]) -> str:
    return served[0]


@pytest.fixture(scope="module")
def model_version(served: tuple[str, dict[str, object]]) -> str:
    return str(served[1]["version"])


def invoke(url: str, body: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.post(f"{url}/invocations", content=body, headers={"content-type": content_type}, timeout=10)


def test_ping_names_the_loaded_model_its_kind_and_encoder(served: tuple[str, dict[str, object]]) -> None:
    url, metadata = served
    response = httpx.get(f"{url}/ping")
    assert response.status_code == 200
    described = response.json()
    expected: dict[str, object] = {"status": "ok", "model_version": metadata["version"], "kind": metadata["kind"]}
    if metadata["kind"] == "encoder":
        encoder = metadata["encoder"]
        assert isinstance(encoder, dict)
        # The graph this CPU runs, chosen at start-up by timing both (ENCODER_GRAPH=auto by default).
        graph = described["encoder"].pop("graph")
        assert graph["asked"] == "auto"
        assert graph["graph"] in GRAPHS
        assert set(graph["ms_per_text"]) == set(GRAPHS)
        expected["encoder"] = {"name": encoder["name"], "sha256": encoder["sha256"], "licence": "Apache-2.0"}
    assert described == expected


def test_a_server_told_to_run_the_fp32_graph_runs_it_and_answers_alike(model_dir: Path) -> None:
    texts = ["An absolute joy from start to finish", "Worst airline ever, lost my bag again", "Thanks, fixed it"]
    answers = {}
    for graph in GRAPHS:
        with running_server({**model_env(model_dir), "ENCODER_GRAPH": graph}) as (url, _):
            assert wait_for_ping(url).json()["encoder"]["graph"] == {"graph": graph, "asked": graph, "ms_per_text": {}}
            predictions = invoke(url, orjson.dumps({"instances": texts})).json()["predictions"]
            answers[graph] = [p["label"] for p in predictions]
    assert answers["fp32"] == answers["int8"] == ["positive", "negative", "positive"]


def test_concurrent_requests_get_the_answers_they_get_alone(server: str) -> None:
    """The encoder server scores requests that arrive together in one batch: each still gets its own."""
    texts = [f"{word} experience with the {thing}" for word in ("great", "awful", "ordinary") for thing in "abcdefgh"]
    alone = [invoke(server, orjson.dumps({"instances": [text]})).json()["predictions"][0] for text in texts]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda t: invoke(server, orjson.dumps({"instances": [t]})), texts))
    assert all(response.status_code == 200 for response in together)
    assert [response.json()["predictions"][0] for response in together] == alone


def test_json_invocation_classifies_each_text(server: str, model_version: str) -> None:
    texts = ["An absolute joy from start to finish", "Worst airline ever, lost my bag again"]
    response = invoke(server, orjson.dumps({"instances": texts}))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    predictions = response.json()["predictions"]
    assert [p["label"] for p in predictions] == ["positive", "negative"]
    assert all(p["model_version"] == model_version for p in predictions)
    assert all(abs(sum(p["scores"].values()) - 1) < 1e-9 for p in predictions)


def test_an_explained_invocation_gives_each_prediction_its_words_while_others_are_served(server: str) -> None:
    texts = ["Worst airline ever, lost my bag again", "An absolute joy"]
    plain = invoke(server, orjson.dumps({"instances": texts})).json()["predictions"]
    with ThreadPoolExecutor(4) as pool:
        others = [pool.submit(invoke, server, orjson.dumps({"instances": [text]})) for text in texts * 4]
        response = invoke(server, orjson.dumps({"instances": texts, "explain": True}))
        assert all(other.result().status_code == 200 for other in others)
    assert response.status_code == 200
    explained = response.json()["predictions"]
    assert [{key: value for key, value in p.items() if key != "explanation"} for p in explained] == plain
    first = explained[0]["explanation"]
    assert [token["text"] for token in first["tokens"]] == [
        "Worst",
        "airline",
        "ever",
        ",",
        "lost",
        "my",
        "bag",
        "again",
    ]
    assert max(first["tokens"], key=lambda token: token["weight"])["text"] in {"Worst", "lost"}
    too_many = invoke(server, orjson.dumps({"instances": ["fine"] * 5, "explain": True}))
    assert too_many.status_code == 413
    assert "explain" in too_many.json()["message"]


@pytest.mark.parametrize("content_type", ["text/csv", "text/plain", "text/plain; charset=utf-8"])
def test_line_formats_give_one_prediction_per_line(server: str, content_type: str) -> None:
    response = invoke(server, b"a delight\nutterly dreadful\n", content_type)
    assert response.status_code == 200
    assert [p["label"] for p in response.json()["predictions"]] == ["positive", "negative"]


def test_a_full_batch_is_served(server: str) -> None:
    response = invoke(server, orjson.dumps({"instances": [f"review number {i} was great" for i in range(256)]}))
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 256


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{oops", "application/json", 400),
        (b'{"instances": [1, 2]}', "application/json", 400),
        (b'{"instances": [""]}', "application/json", 400),
        (orjson.dumps({"instances": ["x" * 5001]}), "application/json", 400),
        (orjson.dumps({"instances": ["x"] * 257}), "application/json", 413),
        (b"\xc3\x28 invalid utf-8", "text/plain", 400),
        (b"<xml/>", "application/xml", 415),
    ],
)
def test_bad_input_gets_a_4xx_that_says_why_and_the_server_keeps_serving(
    server: str, body: bytes, content_type: str, status: int
) -> None:
    response = invoke(server, body, content_type)
    assert response.status_code == status
    assert response.json()["message"]
    assert invoke(server, b'{"instances": ["still here"]}').status_code == 200


@pytest.mark.parametrize(
    ("header", "value", "echoed"),
    [
        ("X-Correlation-Id", "JKJaXmPLvHcESHA=", "JKJaXmPLvHcESHA="),
        ("X-Amzn-SageMaker-Custom-Attributes", "correlation_id=run-000001", "run-000001"),
        ("X-Correlation-Id", "<script>alert(1)</script>", None),
        ("X-Correlation-Id", "x" * 129, None),
    ],
)
def test_the_callers_correlation_id_comes_back_when_it_is_safe(
    server: str, header: str, value: str, echoed: str | None
) -> None:
    response = httpx.post(
        f"{server}/invocations",
        content=b'{"instances": ["lovely"]}',
        headers={"content-type": "application/json", header: value},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers.get("x-correlation-id") == echoed


def test_oversized_body_is_413(server: str) -> None:
    response = invoke(server, b"x" * (MAX_BODY_BYTES + 1), "text/plain")
    assert response.status_code == 413


def test_unknown_route_and_wrong_method(server: str) -> None:
    assert httpx.get(f"{server}/predict").status_code == 404
    wrong = httpx.get(f"{server}/invocations")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"


def test_archive_with_wrong_hash_is_never_served(model_archive: tuple[Path, str]) -> None:
    archive, sha256 = model_archive
    wrong = sha256[::-1]
    with running_server({"MODEL_URI": str(archive), "MODEL_SHA256": wrong}) as (url, _):
        ping = wait_for_ping(url)
        assert ping.status_code == 503
        assert "SHA-256" in ping.json()["message"]
        refused = invoke(url, b'{"instances": ["hello"]}')
        assert refused.status_code == 503
        assert refused.headers["retry-after"]
