"""``make up`` under load and under faults, as a user would meet them: the model server dying in the
middle of a burst of comments, a client replaying one request a hundred times, S3 delivering one
notification five times, garbage under ``feedback/``, and the whole stack stopped in the middle of a
retraining run. After each, nothing is lost, nothing is stored twice, and the registry still names
exactly one champion, the one that answers.

The tests share one stack and run in file order: the feedback ones need the run slot free, and the
restarts come last (the run the Ctrl-C test starts afterwards is the one the hard kill interrupts).
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest

from sentiment_template.reader import Template
from tests.conftest import ROOT
from tests.system.conftest import LocalStack, labelled_rows, listening_pid, module_stack, wait_for_run

THRESHOLD = 3
CONCURRENCY = 16
LOAD = 600
PENDING_TIMEOUT_S = 300  # a message tried while the model was still down returns after the queue's 180 s
TEMPLATE = Template.read(ROOT / "template.yaml")
BUCKET = TEMPLATE.physical_name("DataBucket")
REGISTRY = TEMPLATE.physical_name("RegistryTable")
TRIGGER = TEMPLATE.physical_name("FeedbackTriggerFunction")


local_stack = module_stack("load-and-faults", RETRAIN_THRESHOLD=str(THRESHOLD), PUBLIC_LABELS="train")


@pytest.fixture(scope="module")
def admin(local_stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {(local_stack.data / 'admin-api-key').read_text().strip()}"}


def _client(stack: LocalStack) -> httpx.Client:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    return httpx.Client(base_url=stack.api, timeout=60, limits=limits)


def _all_comments(api: httpx.Client, **filters: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100, **filters}
    while True:
        page = api.get("/comments", params=params)
        assert page.status_code == 200, page.text
        items.extend(page.json()["items"])
        if not page.json()["next_token"]:
            return items
        params["next_token"] = page.json()["next_token"]


def _distinct_texts(count: int) -> list[str]:
    texts = dict.fromkeys(text.strip() for text, _ in labelled_rows("tweets", 3 * count, seed=23))
    return list(texts)[:count]


def _model_answers(stack: LocalStack) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{stack.env['MODEL_PORT']}/ping", timeout=2) as ping:
            return bool(ping.status == 200)
    except OSError:
        return False


def _pipeline_state(stack: LocalStack) -> dict[str, int]:
    """The registry's feedback counters (no route shows them; the trigger keeps them here)."""
    item = (
        stack.client("dynamodb")
        .get_item(TableName=REGISTRY, Key={"pk": {"S": "PIPELINE"}, "sk": {"S": "STATE"}}, ConsistentRead=True)
        .get("Item", {})
    )
    return {name: int(item.get(name, {}).get("N", 0)) for name in ("pending_feedback", "malformed_feedback")}


def _wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.5)


def _champions(api: httpx.Client) -> tuple[str, list[str]]:
    """The registry's champion, and every model whose status says champion."""
    registry = api.get("/models").json()
    return registry["champion"], [model["version"] for model in registry["items"] if model["status"] == "champion"]


def _served_version(api: httpx.Client) -> str:
    answer = api.post("/comments", json={"comment": f"which model answers? {uuid.uuid4().hex}"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["model_version"])


@dataclass
class Sent:
    text: str
    status: int
    body: dict[str, Any]
    status_stored: str | None  # read back at once, before the pending worker can have seen it


def _send(api: httpx.Client, text: str) -> Sent:
    answer = api.post("/comments", json={"comment": text})
    body = answer.json()
    stored = None
    if answer.status_code == 202:
        # The pending queue delays each message 10 s, so a 202's row must read as pending now.
        stored = api.get(f"/comments/{body['comment_id']}").json().get("status")
    return Sent(text, answer.status_code, body, stored)


def test_the_model_server_killed_mid_load_loses_no_comment(local_stack: LocalStack) -> None:
    port = int(local_stack.env["MODEL_PORT"])
    model = listening_pid(port)
    assert model is not None, "nothing listens on MODEL_PORT"
    assert local_stack.process is not None and os.getpgid(model) == local_stack.process.pid, "not the stack's"
    texts = _distinct_texts(LOAD)
    assert len(texts) == LOAD

    sent: list[Sent] = []
    with _client(local_stack) as api, ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        futures = [pool.submit(_send, api, text) for text in texts]
        for done, future in enumerate(as_completed(futures), start=1):
            if done == LOAD // 3:
                os.kill(model, signal.SIGKILL)
            sent.append(future.result())

    statuses = Counter(one.status for one in sent)
    print(f"\nmodel server killed after {LOAD // 3} of {LOAD} answers: {dict(statuses)}")
    assert set(statuses) <= {201, 202}, statuses
    assert statuses[202] > 0, "the kill had no effect: every comment was classified"
    pending = [one for one in sent if one.status == 202]
    assert all(one.body["status"] == "pending" and one.body["sentiment"] is None for one in pending)
    assert {one.status_stored for one in pending} == {"pending"}
    assert all(one.body["status"] == "classified" for one in sent if one.status == 201)

    # The stack replaces the model server by itself, as ECS replaces a task.
    _wait_until(lambda: listening_pid(port) not in {None, model} and _model_answers(local_stack), 120, "restart")
    assert "the model server stopped" in local_stack.output()

    with _client(local_stack) as api:
        started = time.monotonic()
        _wait_until(lambda: not _all_comments(api, sentiment="pending"), PENDING_TIMEOUT_S, "pending drained")
        print(f"{len(pending)} pending comments classified {time.monotonic() - started:.0f} s after the load")
        champion = api.get("/models").json()["champion"]
        for one in pending:
            later = api.get(f"/comments/{one.body['comment_id']}").json()
            assert later["status"] == "classified", later
            assert later["sentiment"] in {"negative", "neutral", "positive"}
            assert later["model_version"] == champion

        stored = [item for item in _all_comments(api) if item["original_comment"] in set(texts)]
    accepted = {one.body["comment_id"] for one in sent}
    assert len(stored) == len(accepted) == LOAD, "a comment was lost or stored twice"
    assert {item["comment_id"] for item in stored} == accepted


@dataclass
class Reply:
    statuses: list[int]  # every answer met, the final one last
    body: dict[str, Any]


def _replay(api: httpx.Client, text: str, key: str) -> Reply:
    """Like a client that waits out a 409 ("still running") for its Retry-After and asks again."""
    statuses = []
    for _attempt in range(30):
        answer = api.post("/comments", json={"comment": text}, headers={"Idempotency-Key": key})
        statuses.append(answer.status_code)
        if answer.status_code != 409:
            break
        time.sleep(float(answer.headers.get("retry-after", "1")))
    return Reply(statuses, answer.json())


def test_one_idempotency_key_replayed_a_hundred_times_stores_one_comment(local_stack: LocalStack) -> None:
    key, text = uuid.uuid4().hex, f"Replayed a hundred times {uuid.uuid4().hex}"
    with _client(local_stack) as api:
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            replies = list(pool.map(lambda _: _replay(api, text, key), range(100)))
        stored = [item for item in _all_comments(api) if item["original_comment"] == text]

    met = Counter(status for reply in replies for status in reply.statuses)
    print(f"\n100 replays of one Idempotency-Key, {CONCURRENCY} at a time: statuses met {dict(met)}")
    assert {reply.statuses[-1] for reply in replies} == {201}, met
    assert set(met) <= {201, 409}, met
    assert len(stored) == 1, f"{len(stored)} rows for one key"
    assert {reply.body["comment_id"] for reply in replies} == {stored[0]["comment_id"]}


def _feedback_keys(stack: LocalStack) -> set[str]:
    pages = stack.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="feedback/")
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def _trigger_log(stack: LocalStack) -> str:
    path = stack.data / "logs" / "FeedbackTriggerFunction.log"
    return path.read_text(errors="replace") if path.exists() else ""


def test_malformed_feedback_objects_are_skipped_reported_and_start_nothing(
    api: httpx.Client, local_stack: LocalStack
) -> None:
    before = _pipeline_state(local_stack)
    assert before["pending_feedback"] == 0
    # As many as the threshold: were they counted, a run would start.
    bodies = {
        "not-json": b"this is not JSON {",
        "unknown-label": json.dumps({"text": "great", "label": "furious"}).encode(),
        "no-label": json.dumps({"text": "great"}).encode(),
    }
    keys = [f"feedback/dt=2026-01-01/{name}-{uuid.uuid4().hex}.json" for name in bodies]
    s3 = local_stack.client("s3")
    for key, body in zip(keys, bodies.values(), strict=True):
        s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="application/json")

    _wait_until(lambda: all(key in _trigger_log(local_stack) for key in keys), 60, "the trigger reported the keys")
    time.sleep(3)  # any run they wrongly started would be listed by now
    reports = [line for line in _trigger_log(local_stack).splitlines() if "malformed feedback object skipped" in line]
    assert all(any(key in line for line in reports) for key in keys), reports
    after = _pipeline_state(local_stack)
    assert after["pending_feedback"] == before["pending_feedback"], "malformed objects were counted as feedback"
    assert after["malformed_feedback"] == before["malformed_feedback"] + len(keys)
    assert api.get("/training").json()["items"] == [], "a malformed object started a run"


def _s3_event(key: str) -> dict[str, Any]:
    """The notification S3 sends for ``key`` (keys arrive URL-encoded), from the committed event."""
    event: dict[str, Any] = json.loads((ROOT / "events" / "s3-feedback-object-created.json").read_text())
    record = event["Records"][0]["s3"]
    record["bucket"] = {**record["bucket"], "name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"}
    record["object"] = {**record["object"], "key": quote_plus(key, safe="/")}
    return event


def test_one_feedback_event_delivered_five_times_starts_one_run(api: httpx.Client, local_stack: LocalStack) -> None:
    rows = labelled_rows("reviews", THRESHOLD, seed=5)
    comments = [api.post("/comments", json={"comment": text}).json()["comment_id"] for text, _ in rows]
    for comment_id, (_, label) in zip(comments[:-1], rows[:-1], strict=True):
        assert api.post("/feedback", json={"comment_id": comment_id, "label": label}).status_code == 201
    _wait_until(lambda: _pipeline_state(local_stack)["pending_feedback"] == THRESHOLD - 1, 60, "feedback counted")
    assert api.get("/training").json()["items"] == []

    known = _feedback_keys(local_stack)
    last = api.post("/feedback", json={"comment_id": comments[-1], "label": rows[-1][1]})
    assert last.status_code == 201, last.text
    (key,) = _feedback_keys(local_stack) - known
    # S3 notifies the trigger once by itself; deliver the very same event five more times, at once,
    # through the Lambda API (the local stack runs the real handler for an Invoke).
    lambda_ = local_stack.client("lambda")
    payload = json.dumps(_s3_event(key)).encode()

    def deliver(_: int) -> dict[str, Any]:
        answer = lambda_.invoke(FunctionName=TRIGGER, Payload=payload)
        assert "FunctionError" not in answer, answer["Payload"].read()
        report: dict[str, Any] = json.loads(answer["Payload"].read())
        return report

    with ThreadPoolExecutor(max_workers=5) as pool:
        reports = list(pool.map(deliver, range(5)))
    time.sleep(5)  # a second run, were one started late, would be listed by now

    runs = api.get("/training").json()["items"]
    print(f"\none feedback event delivered 5 (+1) times: {len(runs)} run(s); the deliveries' reports: {reports}")
    assert len(runs) == 1, runs
    assert (runs[0]["trigger"], runs[0]["feedback_count"]) == ("feedback", THRESHOLD)
    assert sum(report["counted"] for report in reports) <= 1
    assert sum(report["duplicates"] for report in reports) >= 4
    assert sum(report["started_run"] is not None for report in reports) <= 1
    assert _pipeline_state(local_stack)["pending_feedback"] == 0, "a duplicate delivery was counted"
    finished = wait_for_run(api, runs[0]["run_id"])
    assert finished["status"] == "SUCCEEDED", finished
    assert len(api.get("/training").json()["items"]) == 1


def _wait_for_training(api: httpx.Client, run_id: str) -> None:
    """Until the run's dataset is prepared and its training job runs (a few seconds into ~40 s)."""
    _wait_until(
        lambda: [step["step"] for step in api.get(f"/training/{run_id}").json()["steps"]] == ["prepare"],
        120,
        f"{run_id} reached training",
    )
    time.sleep(3)  # past the local stack's 2 s between saves, so a hard kill keeps the run as started
    assert api.get(f"/training/{run_id}").json()["status"] == "RUNNING"


def _assert_champion_unchanged(api: httpx.Client, champion: str, interrupted: str) -> None:
    assert _champions(api) == (champion, [champion]), "the interrupted run changed the champion"
    assert not [model for model in api.get("/models").json()["items"] if model["training_run"] == interrupted]
    assert _served_version(api) == champion


def test_ctrl_c_in_the_middle_of_a_run_leaves_a_consistent_registry(
    local_stack: LocalStack, admin: dict[str, str]
) -> None:
    with _client(local_stack) as api:
        champion, champions = _champions(api)
        assert champions == [champion]
        started = api.post("/training", headers=admin)
        assert started.status_code == 202, started.text
        interrupted = started.json()["run_id"]
        _wait_for_training(api, interrupted)

    local_stack.stop(signal.SIGINT)
    local_stack.start()

    with _client(local_stack) as api:
        # Ctrl-C reaches the training job too, so the run may fail on the way out; if it did not, the
        # next POST /training finds its execution gone, marks it FAILED and frees the slot.
        again = api.post("/training", headers=admin)
        assert again.status_code == 202, again.text  # the slot is free: this run goes on in the next test
        assert again.json()["run_id"] != interrupted
        lost = api.get(f"/training/{interrupted}").json()
        print(f"\nthe run stopped by Ctrl-C: {lost['status']}: {(lost['error'] or '')[:100]!r}")
        assert (lost["status"], lost["decision"]) == ("FAILED", None), lost
        assert lost["error"] and lost["finished_at"], lost
        _assert_champion_unchanged(api, champion, interrupted)


def test_a_hard_kill_in_the_middle_of_a_run_leaves_a_consistent_registry(
    local_stack: LocalStack, admin: dict[str, str]
) -> None:
    with _client(local_stack) as api:
        champion, champions = _champions(api)
        assert champions == [champion]
        runs_before = Counter(run["status"] for run in api.get("/training").json()["items"])
        running = [run["run_id"] for run in api.get("/training").json()["items"] if run["status"] == "RUNNING"]
        if not running:  # run on its own, not after the previous test
            started = api.post("/training", headers=admin)
            assert started.status_code == 202, started.text
            running = [started.json()["run_id"]]
            runs_before["RUNNING"] += 1
        (interrupted,) = running
        _wait_for_training(api, interrupted)

    local_stack.kill()
    local_stack.start()

    with _client(local_stack) as api:
        # Nothing recorded the run's end: the registry still says RUNNING, until the next start.
        assert api.get(f"/training/{interrupted}").json()["status"] == "RUNNING"
        again = api.post("/training", headers=admin)
        assert again.status_code == 202, again.text
        resumed = again.json()["run_id"]
        lost = api.get(f"/training/{interrupted}").json()
        assert (lost["status"], lost["decision"]) == ("FAILED", None), lost
        assert "the execution no longer exists" in lost["error"], lost["error"]
        _assert_champion_unchanged(api, champion, interrupted)

        finished = wait_for_run(api, resumed)
        assert finished["status"] == "SUCCEEDED", finished
        now, champions = _champions(api)
        assert champions == [now], f"the registry names {champions} as champion"
        assert now == (finished["candidate_version"] if finished["decision"] == "promoted" else champion)
        assert _served_version(api) == now
        runs_after = Counter(run["status"] for run in api.get("/training").json()["items"])
        assert runs_after == runs_before - Counter({"RUNNING": 1}) + Counter({"FAILED": 1, "SUCCEEDED": 1})
