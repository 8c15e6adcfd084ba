"""A team's worth of comments in ``make up``: 20,000 through the batch route, eight requests at a time,
then every listing checked exactly (counts, newest-first order, each sentiment filter), before and
after a restart and a hard kill."""

from __future__ import annotations

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx

from tests.system.conftest import LocalStack, labelled_rows, module_stack

COMMENTS = 20_000
BATCH = 25  # the batch route's limit
CONCURRENCY = 8
LABELS = ("negative", "neutral", "positive")


local_stack = module_stack("many-comments")


def texts(count: int) -> list[str]:
    """Real texts, each made distinct, as people would send them."""
    rows = labelled_rows("reviews", count, seed=3) + labelled_rows("tweets", count, seed=3)
    return [f"{rows[n % len(rows)][0]} (#{n})" for n in range(count)]


def listing(api: httpx.Client, sentiment: str | None = None) -> list[dict[str, Any]]:
    """Every page of GET /comments, 100 at a time."""
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100} | ({"sentiment": sentiment} if sentiment else {})
        if token:
            params["next_token"] = token
        answer = api.get("/comments", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found.extend(page["items"])
        token = page["next_token"]
        if token is None:
            return found


def newest_first(comments: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(comments, key=lambda c: (datetime.fromisoformat(c["timestamp"]), c["comment_id"]), reverse=True)
    return [comment["comment_id"] for comment in ordered]


def check_listings(api: httpx.Client, accepted: dict[str, dict[str, Any]]) -> None:
    everything = listing(api)
    assert len(everything) == len(accepted) == COMMENTS
    assert [comment["comment_id"] for comment in everything] == newest_first(list(accepted.values()))
    assert {comment["comment_id"]: comment["original_comment"] for comment in everything} == {
        comment_id: comment["original_comment"] for comment_id, comment in accepted.items()
    }
    by_label = Counter(comment["sentiment"] for comment in accepted.values())
    assert set(by_label) <= set(LABELS) and sum(by_label.values()) == COMMENTS
    for label in LABELS:
        filtered = listing(api, label)
        expected = [comment for comment in accepted.values() if comment["sentiment"] == label]
        assert len(filtered) == by_label[label]
        assert [comment["comment_id"] for comment in filtered] == newest_first(expected), label


def test_twenty_thousand_comments_list_exactly_before_and_after_restarts(local_stack: LocalStack) -> None:
    # Given 20,000 comments posted in batches of 25, eight batches at a time
    sent = texts(COMMENTS)
    batches = [sent[start : start + BATCH] for start in range(0, COMMENTS, BATCH)]
    with httpx.Client(base_url=local_stack.api, timeout=60) as api:

        def post(batch: list[str]) -> list[dict[str, Any]]:
            answer = api.post("/comments/batch", json={"comments": batch})
            assert answer.status_code == 200, answer.text
            assert answer.json()["errors"] == []
            results: list[dict[str, Any]] = answer.json()["results"]
            return results

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            accepted = {result["comment_id"]: result for results in pool.map(post, batches) for result in results}
        assert sorted(comment["original_comment"] for comment in accepted.values()) == sorted(sent)
        assert all(comment["status"] == "classified" for comment in accepted.values())

        # Then every listing holds exactly them, newest first, and each filter exactly its own
        check_listings(api, accepted)

    # And so it does after a restart, and after a hard kill
    for stop in (local_stack.stop, local_stack.kill):
        stop()
        local_stack.start()
        restored = re.findall(r"Restored (\d+) items", local_stack.output())
        assert int(restored[-1]) >= COMMENTS  # and the registry's few
        with httpx.Client(base_url=local_stack.api, timeout=60) as api:
            check_listings(api, accepted)
