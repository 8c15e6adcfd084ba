"""A job's steps run by hand on fakes, as the classify state machine runs them: CheckFile, the map's
children (its ItemReader's items, batched, each batch one ClassifyBatch), ResultWriter's layout, then
MergeResults; and the upload's and the execution end's listeners."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobs_function.errors import MissingFieldError, NotCsvError, NotJsonLinesError
from jobs_function.logic.check import check
from jobs_function.logic.classify import classify_batch
from jobs_function.logic.merge import json_array_items, merge
from jobs_function.logic.start import on_upload
from jobs_function.logic.status import on_execution_end
from jobs_function.steps import Batch, Checked
from sentiment_common.errors import ModelUnavailableError
from sentiment_common.jobs import UPLOAD_EXPIRED, Job, JobFormat, JobInput, JobStatus, input_key
from tests.fakes.jobs import FakeJobFiles, FakeJobs, FakeJobWorkflow
from tests.fakes.stores import FakeCommentStore, FakeModel, prediction

NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def submitted(jobs: FakeJobs, job_id: str, file_format: JobFormat, text_field: str = "text", **options: Any) -> Job:
    job = Job(
        job_id=job_id,
        format=file_format,
        text_field=text_field,
        submitted_at=NOW,
        upload_expires_at=NOW + timedelta(hours=1),
        **options,
    )
    jobs.put_new(job, NOW + timedelta(hours=1))
    return job


def job_input(job: Job, files: FakeJobFiles) -> JobInput:
    return JobInput(
        job_id=job.job_id,
        bucket=files.bucket,
        key=input_key(job.job_id),
        format=job.format,
        text_field=job.text_field,
        id_field=job.id_field,
    )


def items(files: FakeJobFiles, checked: Checked) -> list[Any]:
    """What the map's ItemReader reads: CSV records under the first row's names, or each JSON line."""
    text = files.read(checked.read_key).decode("utf-8")
    if checked.format is JobFormat.CSV:
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines()]


def run_map(files: FakeJobFiles, checked: Checked, model: FakeModel, batch_size: int = 2, skip: int = -1) -> None:
    """The map's children, one per batch (the ``skip``-th failing), and ResultWriter's files."""
    rows = items(files, checked)
    children = []
    for number, start in enumerate(range(0, len(rows), batch_size)):
        batch = {
            "Items": [
                {"index": index, "row": rows[index]} for index in range(start, min(start + batch_size, len(rows)))
            ],
            "BatchInput": {"job_id": checked.job_id, "text_field": checked.text_field},
        }
        if number == skip:
            continue
        output = classify_batch(Batch.model_validate(batch), model).model_dump_json()
        children.append({"Status": "SUCCEEDED", "Input": json.dumps(batch), "Output": output})
    run = f"{checked.map_prefix}run-1/"
    files.write(f"{run}SUCCEEDED_0.json", json.dumps(children).encode(), "application/json")
    manifest = {"ResultFiles": {"SUCCEEDED": [{"Key": f"{run}SUCCEEDED_0.json"}], "FAILED": [], "PENDING": []}}
    files.write(f"{run}manifest.json", json.dumps(manifest).encode(), "application/json")


def by_mood(text: str) -> Any:
    return prediction("negative" if "bad" in text else "positive", 0.8)


def test_a_csv_file_gives_every_row_once_in_order_with_its_id_and_errors_per_row() -> None:
    # given a CSV upload with an id column, an empty row, a row too long and a row that is not UTF-8
    jobs, files, model = FakeJobs(), FakeJobFiles(), FakeModel(answer=by_mood)
    job = submitted(jobs, "j1", JobFormat.CSV, "comment", id_field="ticket")
    files.objects[input_key("j1")] = (
        b'ticket,comment\nT1,"good, really"\nT2,\nT3,' + b"x" * 6000 + b"\nT4,caf\xe9 bad\nT5,bad service\n"
    )
    # when its steps run
    checked = check(job_input(job, files), files, jobs)
    run_map(files, checked, model)
    merge("j1", files, jobs)
    # then the results hold every row in input order, each with its sentiment or its error
    results = list(csv.DictReader(io.StringIO(files.read("jobs/j1/results.csv").decode())))
    assert [row["id"] for row in results] == ["T1", "T2", "T3", "T4", "T5"]
    assert [row["sentiment"] or row["error"] for row in results] == [
        "positive",
        "EMPTY_TEXT",
        "DOCUMENT_SIZE_EXCEEDED",
        "UNSUPPORTED_ENCODING",
        "negative",
    ]
    assert float(results[0]["positive"]) == pytest.approx(0.8) and results[0]["model_version"] == "v1"
    # and the job is complete, with its counts
    done = jobs.get("j1")
    assert done.status is JobStatus.COMPLETED
    assert (done.counts.total, done.counts.succeeded, done.counts.failed) == (5, 2, 3)
    assert done.summary is not None and done.summary.labels == {"positive": 1, "negative": 1}
    # and the model was never asked about the rows with errors, nor beyond its batches
    assert all("x" * 6000 not in text and text for call in model.calls for text in call)


def test_a_json_lines_file_without_an_id_field_numbers_its_rows_from_zero() -> None:
    jobs, files, model = FakeJobs(), FakeJobFiles(), FakeModel(answer=by_mood)
    job = submitted(jobs, "j2", JobFormat.JSONL)
    files.objects[input_key("j2")] = b'{"text": "bad"}\n{"text": "fine", "stars": 5}\n{"text": 42}\n'
    checked = check(job_input(job, files), files, jobs)
    run_map(files, checked, model)
    merge("j2", files, jobs)
    lines = [json.loads(line) for line in files.read("jobs/j2/results.jsonl").decode().splitlines()]
    assert [(line["id"], line["sentiment"], line["error"]) for line in lines] == [
        (0, "negative", ""),
        (1, "positive", ""),
        (2, "positive", ""),
    ]


@pytest.mark.parametrize(
    ("file_format", "body", "refusal"),
    [
        (JobFormat.CSV, b"ticket,comment\nT1,fine\n", MissingFieldError),
        (JobFormat.CSV, b"", NotCsvError),
        (JobFormat.CSV, b'text\n"open quote\n', NotCsvError),
        (JobFormat.JSONL, b'{"text": "fine"}\nnot json\n', NotJsonLinesError),
        (JobFormat.JSONL, b'{"text": "fine"}\n["text"]\n', NotJsonLinesError),
        (JobFormat.JSONL, b'{"comment": "fine"}\n', MissingFieldError),
    ],
)
def test_a_file_that_cannot_be_classified_fails_before_any_row_is(
    file_format: JobFormat, body: bytes, refusal: type[Exception]
) -> None:
    jobs, files = FakeJobs(), FakeJobFiles()
    job = submitted(jobs, "j3", file_format)
    files.objects[input_key("j3")] = body
    with pytest.raises(refusal):
        check(job_input(job, files), files, jobs)


def test_a_batch_is_one_call_to_the_model_and_the_model_down_is_an_error_the_retry_matches() -> None:
    model = FakeModel()
    batch = Batch.model_validate(
        {
            "Items": [{"index": 7, "row": {"text": "a"}}, {"index": 8, "row": {"text": "b"}}],
            "BatchInput": {"job_id": "j", "text_field": "text"},
        }
    )
    assert [row[0] for row in classify_batch(batch, model).rows] == [7, 8]
    assert model.calls == [["a", "b"]]
    model.down = True
    with pytest.raises(ModelUnavailableError):
        classify_batch(batch, model)


def test_rows_no_child_classified_say_so_and_the_rows_done_are_kept() -> None:
    # given a job stopped while one of its batches had not run
    jobs, files = FakeJobs(), FakeJobFiles()
    job = submitted(jobs, "j4", JobFormat.CSV)
    files.objects[input_key("j4")] = b"text\none\ntwo\nthree\n"
    checked = check(job_input(job, files), files, jobs)
    run_map(files, checked, FakeModel(), batch_size=2, skip=0)
    jobs.move("j4", JobStatus.STOP_REQUESTED, {JobStatus.IN_PROGRESS})
    # when the execution's end is heard
    status = on_execution_end({"name": "j4", "status": "ABORTED"}, jobs, files)
    # then the job is stopped, and its results hold the row done and mark the others
    assert status is JobStatus.STOPPED and jobs.get("j4").status is JobStatus.STOPPED
    results = list(csv.DictReader(io.StringIO(files.read("jobs/j4/results.csv").decode())))
    assert [row["sentiment"] or row["error"] for row in results] == ["NOT_PROCESSED", "NOT_PROCESSED", "positive"]


def test_a_failed_execution_fails_the_job_with_its_reason() -> None:
    jobs, files = FakeJobs(), FakeJobFiles()
    submitted(jobs, "j5", JobFormat.CSV)
    jobs.move("j5", JobStatus.IN_PROGRESS, {JobStatus.SUBMITTED})
    detail = {
        "name": "j5",
        "status": "FAILED",
        "error": "MissingFieldError",
        "cause": "the header has no column 'text'",
    }
    on_execution_end(detail, jobs, files)
    failed = jobs.get("j5")
    assert failed.status is JobStatus.FAILED
    assert failed.reason == "MissingFieldError: the header has no column 'text'"


def s3_event(key: str) -> dict[str, Any]:
    return {"Records": [{"s3": {"bucket": {"name": "data"}, "object": {"key": key}}}]}


def test_duplicate_upload_events_start_one_execution() -> None:
    jobs, workflow = FakeJobs(), FakeJobWorkflow()
    submitted(jobs, "j6", JobFormat.CSV)
    first = on_upload(s3_event("jobs/j6/input"), "data", jobs, workflow, NOW)
    again = on_upload(s3_event("jobs/j6/input"), "data", jobs, workflow, NOW)
    assert first.started == ["j6"] and again.started == []
    assert list(workflow.started) == ["j6"] and workflow.starts == 1
    assert jobs.get("j6").status is JobStatus.IN_PROGRESS and "j6" not in jobs.expires


def test_a_file_arriving_after_the_upload_url_expired_starts_nothing() -> None:
    jobs, workflow = FakeJobs(), FakeJobWorkflow()
    submitted(jobs, "j7", JobFormat.CSV)
    report = on_upload(s3_event("jobs/j7/input"), "data", jobs, workflow, NOW + timedelta(hours=2))
    assert report.started == [] and workflow.starts == 0
    assert jobs.get("j7").status is JobStatus.FAILED and jobs.get("j7").reason == UPLOAD_EXPIRED


def test_store_true_stores_classified_rows_as_comments_up_to_the_limit() -> None:
    jobs, files, comments = FakeJobs(), FakeJobFiles(), FakeCommentStore()
    job = submitted(jobs, "j8", JobFormat.CSV, store=True)
    files.objects[input_key("j8")] = b"text\none\n\ntwo\nthree\n".replace(b"\n\n", b'\n""\n')
    checked = check(job_input(job, files), files, jobs)
    run_map(files, checked, FakeModel())
    merge("j8", files, jobs, comments=comments, store_limit=2)
    stored, _ = comments.list(None, 10, None)
    assert sorted(comment.text for comment in stored) == ["one", "two"]
    assert jobs.get("j8").stored == 2


@pytest.mark.parametrize("chunk", [1, 3, 64, 10_000])
def test_a_result_file_is_read_one_child_at_a_time_however_it_is_cut(chunk: int) -> None:
    children = [
        {"Output": json.dumps({"rows": [[index, "positive", 0.1, 0.1, 0.8, "v1", None]]}), "Input": "é[],"}
        for index in range(5)
    ]
    data = json.dumps(children).encode()
    pieces = [data[start : start + chunk] for start in range(0, len(data), chunk)]
    assert list(json_array_items(pieces)) == children
    with pytest.raises(ValueError, match="ends inside an item"):
        list(json_array_items([data[: len(data) // 2]]))


def test_an_execution_end_for_no_job_is_logged_and_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    jobs, files = FakeJobs(), FakeJobFiles()
    assert on_execution_end({"name": "not-a-job", "status": "FAILED"}, jobs, files) is None
    assert "an execution for no job" in caplog.text
    assert jobs.items == {} and files.objects == {}
