"""``make up`` with its serverless endpoint playing SageMaker's cold start: no instance at first and none
after ``LOCAL_IDLE_SECONDS`` without an invocation, then ``LOCAL_COLD_START_SECONDS`` before one answers.
A user sees ``/health`` (and the web page) say the model is starting, not down; a comment sent
meanwhile is stored pending because the model is starting, and the pending worker classifies it once
the endpoint is warm.

The tests share one stack and run in file order: each ends with the endpoint warm."""

from __future__ import annotations

import time
from typing import Any

import httpx
from playwright.sync_api import Browser, expect

from tests.system.conftest import LocalStack, module_stack
from tests.system.test_web_page import _accessibility_problems, _post, browser, playwright  # noqa: F401 - fixtures

COLD_START_S = 20  # longer than the API's 10 s wait for a serverless endpoint, shorter than the worker's 21 s
IDLE_S = 15
API_TIMEOUT_S = 15  # the template's Globals


local_stack = module_stack("cold-start", LOCAL_COLD_START_SECONDS=str(COLD_START_S), LOCAL_IDLE_SECONDS=str(IDLE_S))


def _health(api: httpx.Client) -> dict[str, Any]:
    answer = api.get("/health")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _until_ready(api: httpx.Client, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = _health(api)
        if health["model"]["status"] == "ready":
            return health
        assert health["model"]["status"] == "starting", health  # never down on the way
        time.sleep(1)
    raise AssertionError(f"the endpoint was not ready in {timeout} s")


def test_health_says_starting_while_the_endpoint_starts_then_ready(api: httpx.Client) -> None:
    started = time.monotonic()
    cold = _health(api)

    assert cold["status"] == "degraded"
    assert cold["model"]["status"] == "starting"
    assert cold["model"]["reachable"] is False
    assert "starting" in cold["model"]["reason"]

    warm = _until_ready(api, timeout=COLD_START_S + 30)
    assert warm["status"] == "ok"
    assert warm["model"]["reachable"] is True
    assert warm["model"]["model_version"]
    assert time.monotonic() - started >= COLD_START_S - 1  # no sooner than the cold start allows


def test_the_first_comment_after_idle_waits_as_pending_and_is_classified_once_the_endpoint_is_warm(
    api: httpx.Client,
) -> None:
    warm = api.post("/comments", json={"comment": "Quick delivery and a lovely box"})
    assert warm.status_code == 201, warm.text  # a warm endpoint answers at once

    time.sleep(IDLE_S + 2)  # the endpoint scales to zero
    sent = time.monotonic()
    answer = api.post("/comments", json={"comment": "Brilliant support, they fixed it in minutes"})
    waited = time.monotonic() - sent

    assert answer.status_code == 202, answer.text
    comment = answer.json()
    assert (comment["status"], comment["sentiment"]) == ("pending", None)
    assert comment["pending_reason"] == "model_starting"
    assert 9 <= waited < API_TIMEOUT_S  # it waited for the model, and answered within the function's timeout
    health = _health(api)
    assert (health["status"], health["model"]["status"]) == ("degraded", "starting")
    assert api.get(f"/comments/{comment['comment_id']}").json()["pending_reason"] == "model_starting"

    # The queue's message is delivered 10 s later; the worker waits for the start the API's call began.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stored = api.get(f"/comments/{comment['comment_id']}").json()
        if stored["status"] == "classified":
            break
        time.sleep(1)
    assert stored["status"] == "classified", stored
    assert stored["sentiment"] == "positive"
    assert stored["pending_reason"] is None
    assert _health(api)["model"]["status"] == "ready"


def test_the_page_says_the_model_is_starting_then_that_it_answers(browser: Browser, local_stack: LocalStack) -> None:  # noqa: F811
    time.sleep(IDLE_S + 2)  # the endpoint scales to zero
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=local_stack.api)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/")
        health = page.get_by_test_id("health")

        expect(health).to_have_attribute("data-state", "starting", timeout=15_000)
        expect(health).to_contain_text("Model starting")
        _post(page, "The courier was polite and early")
        expect(page.get_by_test_id("result-label")).to_have_text("pending", timeout=20_000)
        expect(page.get_by_test_id("result")).to_contain_text("The model is starting")
        assert _accessibility_problems(page) == ""
        # The page checks every 5 s while the model starts, and says so once it answers.
        expect(health).to_have_attribute("data-state", "ok", timeout=COLD_START_S * 1000 + 15_000)
    finally:
        context.close()
    assert errors == []
