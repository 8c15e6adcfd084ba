"""Labelled files on ``make up`` as an admin uses them: record a dataset, upload the file with a plain PUT
to the URL the API signed (no header, as ``curl -T`` sends it), see it ACTIVE with its report, start a run,
and find the dataset's rows and share in the run's manifest and in the model it trained."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.system.conftest import LocalStack, labelled_rows, module_stack, wait_for_run

local_stack = module_stack("datasets", BACKEND="ecs", RETRAIN_THRESHOLD="1000000")


@pytest.fixture(scope="module")
def admin(local_stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {(local_stack.data / 'admin-api-key').read_text().strip()}"}


def _until_imported(api: httpx.Client, admin: dict[str, str], name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        dataset: dict[str, Any] = api.get(f"/datasets/{name}", headers=admin).json()
        if dataset["status"] != "SUBMITTED" or time.monotonic() > deadline:
            return dataset
        time.sleep(0.5)


def test_an_uploaded_file_trains_the_next_run_with_its_share_recorded(api: httpx.Client, admin: dict[str, str]) -> None:
    rows = labelled_rows("tweets", 40, seed=7)
    body = "text,label\n" + "".join(f'"{text.replace(chr(34), chr(34) * 2)}",{label}\n' for text, label in rows)
    body += ",positive\nThe parcel came,wonderful\n"

    created = api.post("/datasets", json={"name": "support-tickets", "format": "csv"}, headers=admin)
    assert created.status_code == 201, created.text
    upload = httpx.put(created.json()["upload_url"], content=body.encode(), timeout=30)
    assert upload.status_code == 200, upload.text

    dataset = _until_imported(api, admin, "support-tickets")
    assert dataset["status"] == "ACTIVE", dataset
    assert dataset["counts"]["rows"] == 42
    assert dataset["counts"]["accepted"] + dataset["counts"]["rejected"] == 42
    assert {r["reason"] for r in dataset["rejections"]} >= {"EMPTY_TEXT", "UNKNOWN_LABEL"}
    report = httpx.get(dataset["report_url"], timeout=30)
    assert report.status_code == 200 and "UNKNOWN_LABEL" in report.text
    listed = api.get("/datasets", headers=admin).json()
    assert [item["name"] for item in listed["items"]] == ["support-tickets"]

    started = api.post("/training", headers=admin)
    assert started.status_code == 202, started.text
    run = wait_for_run(api, started.json()["run_id"])

    assert run["status"] == "SUCCEEDED", run
    (prepared,) = [step for step in run["steps"] if step["step"] == "prepare"]
    share = prepared["detail"]["datasets"]["support-tickets"]
    assert share["rows"] == dataset["counts"]["accepted"]
    assert 0 < share["share"] < 0.05
    model = api.get(f"/models/{run['candidate_version']}").json()
    assert model["dataset"]["trained_on"]["dataset-support-tickets"] == share["rows"]

    deleted = api.delete("/datasets/support-tickets", headers=admin)
    assert deleted.status_code == 200
    assert api.get("/datasets/support-tickets", headers=admin).status_code == 404
