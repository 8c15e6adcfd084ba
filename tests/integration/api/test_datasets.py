"""Labelled files through the API and the functions S3 and the state machine call, on moto: an admin records
a dataset, uploads the file with a plain PUT to the URL the API signed, the upload's event imports it, a
run's prepare step trains on it; deleted, the next run no longer does."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests

from sentiment_common import dependencies
from tests.conftest import ROOT
from tests.integration.api.conftest import QUEUE_ENDPOINT, LambdaContext, Stack

UPLOAD_EVENT = json.loads((ROOT / "events" / "s3-dataset-upload-created.json").read_text())
GOOD_FILE = (
    b"text,label\n"
    b"The invoice was wrong twice,negative\n"
    b"Support called back within the hour,positive\n"
    b"My ticket number is 4411,neutral\n"
    b",positive\n"
    b"Refund arrived,great\n"
)


def _admin(api: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.admin_key}"}


def _function(api: Stack, monkeypatch: pytest.MonkeyPatch, logical_id: str) -> Callable[..., dict[str, Any]]:
    """A function's handler with the environment the template gives it (on top of the API's)."""
    for name, value in api.template.function_environment(logical_id, QUEUE_ENDPOINT).items():
        monkeypatch.setenv(name, value)
    dependencies.reset()
    module_name, attribute = api.template.resources[logical_id]["Properties"]["Handler"].rsplit(".", 1)
    handler: Callable[..., dict[str, Any]] = getattr(importlib.import_module(module_name), attribute)
    return handler


def _uploaded(api: Stack, name: str) -> dict[str, Any]:
    """S3's notification of the upload, as the bucket sends it to the import function."""
    event = json.loads(json.dumps(UPLOAD_EVENT))
    record = event["Records"][0]["s3"]
    record["bucket"] |= {"name": api.bucket, "arn": f"arn:aws:s3:::{api.bucket}"}
    record["object"]["key"] = f"datasets/{name}/upload"
    return event


def _submit_and_upload(api: Stack, monkeypatch: pytest.MonkeyPatch, name: str, data: bytes) -> dict[str, Any]:
    created = api.call("POST", "/datasets", {"name": name, "format": "csv"}, headers=_admin(api))
    assert created.status == 201, created.body
    assert created.body["status"] == "SUBMITTED"
    put = requests.put(created.body["upload_url"], data=data, timeout=10)  # no header: as `curl -T` sends it
    assert put.status_code == 200, put.text
    imported = _function(api, monkeypatch, "DatasetImportFunction")(
        _uploaded(api, name), LambdaContext("DatasetImportFunction")
    )
    return imported


def _base_data(api: Stack) -> None:
    s3 = boto3.client("s3")
    for split, text in (
        ("base", b"text,label\nlovely,positive\nawful,negative\nfine,neutral\n"),
        ("golden", b"text,label\nMy ticket number is 4411,neutral\n"),
    ):
        s3.put_object(Bucket=api.bucket, Key=f"data/{split}/tweets.csv", Body=text)


def _prepare(api: Stack, monkeypatch: pytest.MonkeyPatch, run_id: str) -> dict[str, Any]:
    return _function(api, monkeypatch, "PrepareDatasetFunction")(
        {"run_id": run_id}, LambdaContext("PrepareDatasetFunction")
    )


def test_an_uploaded_file_is_imported_row_by_row_and_shown_with_its_report(
    api: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    imported = _submit_and_upload(api, monkeypatch, "support-tickets", GOOD_FILE)

    assert imported["imported"] == ["support-tickets"]
    shown = api.call("GET", "/datasets/support-tickets", headers=_admin(api))
    assert shown.status == 200
    assert shown.body["status"] == "ACTIVE"
    assert shown.body["counts"] == {
        "rows": 5,
        "accepted": 3,
        "rejected": 2,
        "labels": {"negative": 1, "neutral": 1, "positive": 1},
    }
    assert [(r["line"], r["reason"]) for r in shown.body["rejections"]] == [(5, "EMPTY_TEXT"), (6, "UNKNOWN_LABEL")]
    report = requests.get(shown.body["report_url"], timeout=10)
    assert [json.loads(line)["reason"] for line in report.text.splitlines()] == ["EMPTY_TEXT", "UNKNOWN_LABEL"]
    listed = api.call("GET", "/datasets", headers=_admin(api))
    assert [item["name"] for item in listed.body["items"]] == ["support-tickets"]
    # the same upload's event again imports nothing twice
    again = _function(api, monkeypatch, "DatasetImportFunction")(
        _uploaded(api, "support-tickets"), LambdaContext("DatasetImportFunction")
    )
    assert (again["imported"], again["skipped"]) == ([], 1)


def test_a_name_is_taken_and_the_routes_need_the_admin_key(api: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    _submit_and_upload(api, monkeypatch, "support-tickets", GOOD_FILE)

    taken = api.call("POST", "/datasets", {"name": "support-tickets", "format": "jsonl"}, headers=_admin(api))
    anonymous = api.call("GET", "/datasets")

    assert taken.status == 409
    assert anonymous.status in {401, 403}


def test_a_file_without_the_columns_fails_whole_with_the_reason(api: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    _submit_and_upload(api, monkeypatch, "no-columns", b"comment,sentiment\nhi,positive\n")

    shown = api.call("GET", "/datasets/no-columns", headers=_admin(api))

    assert shown.body["status"] == "FAILED"
    assert "lacks the column(s) text, label" in shown.body["failure_reason"]
    assert [key for key in api.objects("datasets/no-columns/") if key.endswith("rows.csv")] == []


def test_a_run_trains_on_an_active_dataset_and_not_once_it_is_deleted(
    api: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    _base_data(api)
    _submit_and_upload(api, monkeypatch, "support-tickets", GOOD_FILE)

    first = _prepare(api, monkeypatch, "run-000001")

    assert first["train_uri"] == f"s3://{api.bucket}/training-runs/run-000001/train/"
    assert "training-runs/run-000001/train/base/dataset-support-tickets.csv" in api.objects("training-runs/")
    manifest = api.runs.get_run("run-000001").steps[0].detail
    # the golden split's text stays out: two of the three accepted rows train, beside three base rows
    assert manifest["datasets"] == {"support-tickets": {"rows": 2, "share": 0.4}}

    deleted = api.call("DELETE", "/datasets/support-tickets", headers=_admin(api))
    second = _prepare(api, monkeypatch, "run-000002")

    assert deleted.status == 200
    assert api.call("GET", "/datasets/support-tickets", headers=_admin(api)).status == 404
    assert api.objects("datasets/") == []
    assert second["train_uri"] == f"s3://{api.bucket}/data/"
    assert api.runs.get_run("run-000002").steps[0].detail["datasets"] == {}


def test_a_retried_post_with_its_idempotency_key_records_one_dataset_and_answers_the_first_url(api: Stack) -> None:
    headers = _admin(api) | {"Idempotency-Key": "tickets-upload-1"}
    body = {"name": "support-tickets", "format": "jsonl"}

    first = api.call("POST", "/datasets", body, headers=headers)
    retry = api.call("POST", "/datasets", body, headers=headers)

    assert (first.status, retry.status) == (201, 201)
    assert retry.body == first.body
    items = [item for item in api.items("RegistryTable") if item["pk"] == "DATASET"]
    assert [item["sk"] for item in items] == ["support-tickets"]
    # waiting for its upload, the item expires a day after its URL does, so a file that never comes leaves nothing
    assert int(items[0]["expires_at"]) > 0
