"""``make classify``'s own decisions: the file's format, where the results go, what the job is asked, and
the progress line a person watches. The way through a running stack is in tests/system/test_jobs.py."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

from sentiment_deploy.classify import RESULTS_WAIT_S, Classifier, Request, progress_line
from sentiment_deploy.stack import DeployError


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("tickets.csv", None, "csv"),
        ("TICKETS.CSV", None, "csv"),
        ("reviews.jsonl", None, "jsonl"),
        ("reviews.ndjson", None, "jsonl"),
        ("export.txt", "csv", "csv"),
    ],
)
def test_the_format_comes_from_the_extension_unless_given(name: str, given: str | None, expected: str) -> None:
    assert Request(Path(name), "text", format=given).file_format() == expected


def test_a_file_of_unknown_kind_is_refused_with_what_to_say() -> None:
    with pytest.raises(DeployError, match="FORMAT=csv or FORMAT=jsonl"):
        Request(Path("export.txt"), "text").file_format()
    with pytest.raises(DeployError, match="csv or jsonl, not 'xml'"):
        Request(Path("export.csv"), "text", format="xml").file_format()


def test_the_results_go_beside_the_input_in_its_format(tmp_path: Path) -> None:
    assert Request(tmp_path / "tickets.csv", "text").results_path() == tmp_path / "tickets.results.csv"
    assert Request(tmp_path / "dump.ndjson", "text").results_path() == tmp_path / "dump.results.jsonl"


def test_the_job_is_asked_for_what_was_given_and_nothing_more() -> None:
    assert Request(Path("t.csv"), "body").body() == {"format": "csv", "text_field": "body"}
    assert Request(Path("t.jsonl"), "body", id_field="ticket", store=True).body() == {
        "format": "jsonl",
        "text_field": "body",
        "id_field": "ticket",
        "store": True,
    }


def test_the_progress_line_shows_the_share_done_the_rate_and_the_failures() -> None:
    line = progress_line(
        {"status": "IN_PROGRESS", "total": 100_000, "succeeded": 49_000, "failed": 1_000, "rows_per_second": 1204.4},
        width=10,
    )
    assert line == "[#####.....]  50,000/100,000 rows  1,204 rows/s  1,000 failed  IN_PROGRESS"


def test_before_the_rows_are_counted_the_bar_is_empty() -> None:
    assert progress_line({"status": "SUBMITTED", "total": None}, width=4) == "[....]  0 rows  SUBMITTED"
    assert progress_line({"status": "COMPLETED", "total": 3, "succeeded": 3}, width=3) == "[###]  3/3 rows  COMPLETED"


def scripted_api(answers: list[dict[str, object]]) -> tuple[httpx.Client, list[str]]:
    """An API client whose GET /jobs/j1 answers each of ``answers`` in turn, the last one from then on."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, json=answers[min(len(asked), len(answers)) - 1])

    return httpx.Client(base_url="http://api", transport=httpx.MockTransport(answer)), asked


def test_a_stopped_job_is_followed_until_its_results_are_written() -> None:
    stopped = {"status": "STOPPED", "total": 300, "succeeded": 0, "failed": 0}
    api, asked = scripted_api(
        [
            {"status": "IN_PROGRESS", "total": 300, "succeeded": 64, "failed": 0, "results_ready": False},
            {**stopped, "results_ready": False},
            {**stopped, "succeeded": 64, "failed": 236, "results_ready": True},
        ]
    )
    job = Classifier(api, out=io.StringIO()).follow("j1", sleep=lambda _: None)
    assert (job["results_ready"], job["succeeded"], len(asked)) == (True, 64, 3)


def test_a_job_that_ended_before_its_rows_were_counted_is_not_waited_for() -> None:
    api, asked = scripted_api([{"status": "FAILED", "total": None, "results_ready": False}])
    assert Classifier(api, out=io.StringIO()).follow("j1", sleep=lambda _: None)["status"] == "FAILED"
    assert len(asked) == 1


def test_results_that_never_come_are_waited_for_a_minute_at_most() -> None:
    api, asked = scripted_api([{"status": "STOPPED", "total": 5, "results_ready": False}])
    Classifier(api, out=io.StringIO(), poll_s=10).follow("j1", sleep=lambda _: None)
    assert len(asked) == RESULTS_WAIT_S // 10 + 1
