"""Bulk classification jobs on ``make up``, as a user runs them: submit, upload the file with a plain PUT,
follow the job to COMPLETED, download the results; a malformed file, a duplicate upload, and a job
cancelled mid-way then resumed. The classify state machine's Distributed Map runs on the local stack's
engine."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.system.conftest import LocalStack, labelled_rows, listening_pid, make, module_stack

JOB_TIMEOUT_S = 300
FINISHED = {"COMPLETED", "FAILED", "STOPPED"}

local_stack = module_stack("jobs", BACKEND="ecs")


@pytest.fixture(scope="module")
def admin(local_stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {(local_stack.data / 'admin-api-key').read_text().strip()}"}


def submit(api: httpx.Client, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    created = api.post("/jobs", json=body, headers=admin)
    assert created.status_code == 201, created.text
    return dict(created.json())


def upload(url: str, body: bytes) -> None:
    # What `curl -T file "$url"` sends: the bytes, and no header of its own choosing.
    answer = httpx.put(url, content=body, timeout=60)
    assert answer.status_code == 200, answer.text


def tweets_job(api: httpx.Client, admin: dict[str, str], seed: int, rows: int = 3000) -> tuple[str, list[str]]:
    """A job over a CSV of ``rows`` real tweets, uploaded: its id and the texts in order."""
    created = submit(api, admin, format="csv", text_field="text")
    texts = [text for text, _ in labelled_rows("tweets", rows, seed=seed)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text"])
    writer.writerows([text] for text in texts)
    upload(created["upload_url"], buffer.getvalue().encode())
    return created["job_id"], texts


def wait_for_first_rows(api: httpx.Client, admin: dict[str, str], job_id: str) -> None:
    """Until the job has classified some of its rows."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while api.get(f"/jobs/{job_id}", headers=admin).json()["succeeded"] == 0:
        assert time.monotonic() < deadline, "no row was classified"
        time.sleep(0.2)


def wait_for_job(
    api: httpx.Client, admin: dict[str, str], job_id: str, until: set[str] = FINISHED, timeout: float = JOB_TIMEOUT_S
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = api.get(f"/jobs/{job_id}", headers=admin).json()
        # an ended job's results are written a moment after its status (a stopped or failed one's)
        results_pending = job.get("status") in FINISHED and job.get("total") is not None and not job["results_ready"]
        if job.get("status") in until and not results_pending:
            return job
        time.sleep(1)
    raise AssertionError(f"job {job_id} did not reach {until} in {timeout} s: {job}")


def results(api: httpx.Client, admin: dict[str, str], job_id: str) -> tuple[dict[str, Any], bytes]:
    answer = api.get(f"/jobs/{job_id}/results", headers=admin)
    assert answer.status_code == 200, answer.text
    return answer.json(), httpx.get(answer.json()["download_url"], timeout=60).content


def test_a_csv_upload_is_classified_row_by_row_in_order_with_errors_per_row(
    api: httpx.Client, admin: dict[str, str]
) -> None:
    # given a CSV of tickets with an empty text, a 6,000-character text and a row that is not UTF-8
    created = submit(api, admin, format="csv", text_field="comment", id_field="ticket")
    body = (
        b'ticket,comment\nT1,"I love the new release, great work"\nT2,\nT3,'
        + b"long " * 1200
        + b"\nT4,caf\xe9 was cold\nT5,The checkout keeps failing and support never answers\n"
    )
    # when it is uploaded with a plain PUT and the job runs
    upload(created["upload_url"], body)
    job = wait_for_job(api, admin, created["job_id"])
    # then every row is in the results once, in order, classified or with Comprehend's error
    assert job["status"] == "COMPLETED", job
    assert (job["total"], job["succeeded"], job["failed"]) == (5, 2, 3)
    summary, data = results(api, admin, created["job_id"])
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [row["id"] for row in rows] == ["T1", "T2", "T3", "T4", "T5"]
    assert [row["error"] for row in rows] == ["", "EMPTY_TEXT", "DOCUMENT_SIZE_EXCEEDED", "UNSUPPORTED_ENCODING", ""]
    assert (rows[0]["sentiment"], rows[4]["sentiment"]) == ("positive", "negative")
    assert summary["errors"] == {"EMPTY_TEXT": 1, "DOCUMENT_SIZE_EXCEEDED": 1, "UNSUPPORTED_ENCODING": 1}


def test_a_json_lines_job_numbers_its_rows_and_a_second_upload_starts_nothing(
    api: httpx.Client, admin: dict[str, str]
) -> None:
    created = submit(api, admin, format="jsonl", text_field="review")
    lines = b"".join(json.dumps({"review": text}).encode() + b"\n" for text, _ in labelled_rows("reviews", 40, seed=3))
    # a path signed for another object is refused by S3, through the stack's own address as on CloudFront
    forged = created["upload_path"].replace(f"/jobs/{created['job_id']}/", "/jobs/someone-else/", 1)
    refused = api.put(forged, content=lines)
    assert (refused.status_code, "SignatureDoesNotMatch" in refused.text) == (403, True), refused.text
    # when the file is uploaded as the page uploads it, on the stack's own address, then again as curl does
    page_upload = api.put(created["upload_path"], content=lines)
    assert page_upload.status_code == 200, page_upload.text
    upload(created["upload_url"], lines)
    job = wait_for_job(api, admin, created["job_id"])
    assert (job["status"], job["total"], job["succeeded"]) == ("COMPLETED", 40, 40)
    _, data = results(api, admin, created["job_id"])
    assert [json.loads(line)["id"] for line in data.decode().splitlines()] == list(range(40))


def test_a_file_without_the_column_fails_with_the_reason(api: httpx.Client, admin: dict[str, str]) -> None:
    created = submit(api, admin, format="csv", text_field="comment")
    upload(created["upload_url"], b"ticket,text\nT1,fine\n")
    job = wait_for_job(api, admin, created["job_id"])
    assert job["status"] == "FAILED" and "no column 'comment'" in job["reason"]
    assert api.get(f"/jobs/{created['job_id']}/results", headers=admin).status_code == 409


def test_a_job_cancelled_mid_way_keeps_its_rows_and_resume_runs_only_the_rest(
    api: httpx.Client, admin: dict[str, str]
) -> None:
    job_id, texts = tweets_job(api, admin, seed=5)
    # when it is cancelled once some rows are done
    wait_for_first_rows(api, admin, job_id)
    assert api.post(f"/jobs/{job_id}/cancel", headers=admin).json()["status"] in {"STOP_REQUESTED", "STOPPED"}
    stopped = wait_for_job(api, admin, job_id)
    assert stopped["status"] == "STOPPED"
    _, partial = results(api, admin, job_id)
    done = [row for row in csv.DictReader(io.StringIO(partial.decode())) if not row["error"]]
    assert 0 < len(done) < len(texts)
    # then resuming runs the rest, and every row is in the results once
    assert api.post(f"/jobs/{job_id}/resume", headers=admin).json()["status"] == "IN_PROGRESS"
    finished = wait_for_job(api, admin, job_id)
    assert (finished["status"], finished["succeeded"]) == ("COMPLETED", len(texts))
    _, data = results(api, admin, job_id)
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [row["id"] for row in rows] == [str(index) for index in range(len(texts))]
    assert all(row["sentiment"] for row in rows)


def test_make_classify_writes_the_results_beside_the_file(local_stack: LocalStack, tmp_path: Path) -> None:
    # given an export of tickets, one with no text, in a folder of the user's
    source = tmp_path / "tickets.csv"
    texts = [text for text, _ in labelled_rows("reviews", 30, seed=7)]
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ticket", "body"])
        writer.writerows([f"T{n}", text] for n, text in enumerate(texts))
        writer.writerow(["T30", ""])
    # when the user runs make classify while make up runs (found by its data folder, as a user's shell finds it)
    done = make("classify", f"FILE={source}", "COLUMN=body", "ID=ticket", env=local_stack.env, timeout=JOB_TIMEOUT_S)
    # then it says where the results are, the rows are there in order, and it showed its progress
    assert done.returncode == 0, done.stdout + done.stderr
    written = tmp_path / "tickets.results.csv"
    assert f"COMPLETED; results in {written}" in done.stdout
    assert "31/31 rows" in done.stderr
    rows = list(csv.DictReader(written.open(newline="")))
    assert [row["id"] for row in rows] == [f"T{n}" for n in range(31)]
    assert all(row["sentiment"] in {"negative", "neutral", "positive"} for row in rows[:30])
    assert rows[30]["error"] == "EMPTY_TEXT"
    assert "errors: EMPTY_TEXT 1" in done.stdout


def test_the_model_server_killed_mid_job_costs_retries_and_no_row(
    local_stack: LocalStack, api: httpx.Client, admin: dict[str, str]
) -> None:
    # given a job of 3,000 rows under way
    job_id, texts = tweets_job(api, admin, seed=11)
    wait_for_first_rows(api, admin, job_id)
    # when the model server dies (the stack replaces it, as ECS replaces a task)
    model = listening_pid(int(local_stack.env["MODEL_PORT"]))
    assert model is not None and local_stack.process is not None and os.getpgid(model) == local_stack.process.pid
    os.kill(model, signal.SIGKILL)
    at_the_kill = api.get(f"/jobs/{job_id}", headers=admin).json()
    assert at_the_kill["status"] == "IN_PROGRESS" and at_the_kill["succeeded"] < len(texts), at_the_kill
    # then the batches that met it wait and try again: the job completes with every row once, classified
    finished = wait_for_job(api, admin, job_id)
    assert (finished["status"], finished["succeeded"], finished["failed"]) == ("COMPLETED", len(texts), 0), finished
    _, data = results(api, admin, job_id)
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [row["id"] for row in rows] == [str(index) for index in range(len(texts))]
    assert all(row["sentiment"] and not row["error"] for row in rows)
    assert "the model server stopped" in local_stack.output()


def test_a_job_under_way_when_the_stack_is_killed_is_resumed_after_the_restart_with_every_row_once(
    local_stack: LocalStack, api: httpx.Client, admin: dict[str, str]
) -> None:
    # given a job of 3,000 rows under way
    job_id, texts = tweets_job(api, admin, seed=13)
    wait_for_job(api, admin, job_id, until={"IN_PROGRESS"})
    # when the stack is killed (kill -9, no shutdown) and started again
    local_stack.kill()
    local_stack.start()
    # then the job says its execution is gone and what to do, and resuming runs it to the end: every row once
    lost = api.get(f"/jobs/{job_id}", headers=admin).json()
    assert lost["status"] == "FAILED" and "resume the job" in lost["reason"], lost
    assert api.post(f"/jobs/{job_id}/resume", headers=admin).json()["status"] == "IN_PROGRESS"
    finished = wait_for_job(api, admin, job_id)
    assert (finished["status"], finished["succeeded"], finished["failed"]) == ("COMPLETED", len(texts), 0), finished
    _, data = results(api, admin, job_id)
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [row["id"] for row in rows] == [str(index) for index in range(len(texts))]
    assert all(row["sentiment"] and not row["error"] for row in rows)
