"""``make classify``'s own decisions: the file's format, where the results go, what the job is asked, and
the progress line a person watches. The way through a running stack is in tests/system/test_jobs.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentiment_deploy.classify import Request, progress_line
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
