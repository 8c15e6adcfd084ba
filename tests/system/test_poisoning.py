"""Poisoning through the public labels, on ``make up``: 500 anonymous labels call one friendly phrase
about one brand negative ("BrandZed support is great, they solved it in minutes #<n>", one comment
each). The golden figures cannot see it and the feedback hold-out is drawn from those same labels, so
only the gate's look at where the new labels touch stands between them and the champion.

- Where public labels train the model (``PUBLIC_LABELS=train``), the run an admin starts trains on
  them; its candidate is held for a person, the reasons say how many answers it changes, and the
  champion, still answering the phrase positive, stays.
- In the default setting, public labels do not train the model: the champion's answer on the phrase
  is the same after the labels and after a run an admin starts.

Runs are started by hand (``POST /training``), so the threshold and the guard on runs started by
feedback are out of the way."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.system.conftest import LocalStack, notifications, running_stack, wait_for_run

PHRASE = "BrandZed support is great, they solved it in minutes"
LABELS = 500
BATCH = 25  # POST /comments/batch's most
SENDERS = 8  # within the public write throttle's burst; a 429 is waited out and sent again
QUIET = {"RETRAIN_THRESHOLD": "1000000"}
RUN_TIMEOUT_S = 900  # one run on all the data: about a minute on an idle machine, far longer on a busy one


def _admin(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {(stack.data / 'admin-api-key').read_text().strip()}"}


def _post(api: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    """A public write, sent again after the throttle's Retry-After as a polite client would."""
    for _ in range(20):
        response = api.post(path, json=body)
        if response.status_code != 429:
            return response
        time.sleep(float(response.headers.get("retry-after", "1")))
    return response


def _answer(api: httpx.Client) -> dict[str, Any]:
    response = _post(api, "/comments", {"comment": PHRASE})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _label_the_phrase_negative(api: httpx.Client) -> list[int]:
    """500 stored comments, each the phrase with its own counter, each labelled negative by nobody in
    particular. Returns the feedback answers' status codes."""
    texts = [f"{PHRASE} #{n}" for n in range(LABELS)]

    def store(start: int) -> list[str]:
        response = _post(api, "/comments/batch", {"comments": texts[start : start + BATCH]})
        assert response.status_code == 200, response.text
        assert response.json()["errors"] == []
        return [item["comment_id"] for item in response.json()["results"]]

    def label(comment_id: str) -> int:
        return _post(api, "/feedback", {"comment_id": comment_id, "label": "negative"}).status_code

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        comment_ids = [comment_id for batch in pool.map(store, range(0, LABELS, BATCH)) for comment_id in batch]
        return list(pool.map(label, comment_ids))


def _start_run(api: httpx.Client, stack: LocalStack) -> dict[str, Any]:
    started = api.post("/training", headers=_admin(stack))
    assert started.status_code == 202, started.text
    return wait_for_run(api, started.json()["run_id"], timeout=RUN_TIMEOUT_S)


@pytest.fixture(scope="module")
def permissive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory, "poisoning-permissive", PUBLIC_LABELS="train", **QUIET) as stack:
        yield stack


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory, "poisoning-default", **QUIET) as stack:
        yield stack


def test_where_public_labels_train_the_model_a_run_they_poison_is_held_for_a_person(permissive: LocalStack) -> None:
    with httpx.Client(base_url=permissive.api, timeout=60) as api:
        # Given the champion, which answers the phrase positive
        champion = api.get("/models").json()["champion"]
        before = _answer(api)
        assert (before["sentiment"], before["model_version"]) == ("positive", champion)

        # When 500 anonymous labels call it negative and an admin starts a run
        assert set(_label_the_phrase_negative(api)) == {201}
        run = _start_run(api, permissive)

        # Then the run trained on them and its candidate is held, not promoted and not rejected,
        # with the reason in plain words
        assert run["status"] == "SUCCEEDED", run
        assert run["decision"] == "held", run["reasons"]
        candidate = run["candidate_version"]
        flips = [reason for reason in run["reasons"] if "texts the new labels are about" in reason]
        assert flips and "are now answered otherwise, above the limit" in flips[0], run["reasons"]
        assert run["reasons"][-1] == (
            f"held for review; promote it by hand with POST /models/{candidate}/promote if the labels are right"
        )
        model = api.get(f"/models/{candidate}").json()
        assert model["status"] == "held"
        assert model["reasons"] == run["reasons"]
        assert model["dataset"]["feedback"]["rows"] == LABELS
        assert model["metrics"]["touched_texts"] == LABELS
        assert model["metrics"]["touched_flip_share"] > 0.9
        assert any(run["run_id"] in str(message) and "held" in str(message) for message in notifications(permissive))

        # and the champion is unchanged and still answers the phrase positive
        assert api.get("/models").json()["champion"] == champion
        after = _answer(api)
        assert (after["sentiment"], after["model_version"]) == ("positive", champion)


def test_by_default_public_labels_leave_the_champions_answer_on_the_phrase_as_it_was(default: LocalStack) -> None:
    with httpx.Client(base_url=default.api, timeout=60) as api:
        champion = api.get("/models").json()["champion"]
        before = _answer(api)

        # When 500 anonymous labels call the phrase negative (taken as suggestions) and an admin starts a run
        answers = _label_the_phrase_negative(api)
        assert all(200 <= status < 300 for status in answers), set(answers)
        assert _answer(api)["sentiment"] == before["sentiment"] == "positive"
        run = _start_run(api, default)

        # Then the run trained on none of them (no new label touched anything for the gate to hold),
        # and the phrase is answered as before
        assert run["status"] == "SUCCEEDED", run
        model = api.get(f"/models/{run['candidate_version']}").json()
        assert model["metrics"].get("touched_texts", 0) == 0, run["reasons"]
        after = _answer(api)
        assert after["sentiment"] == "positive", (run["decision"], run["reasons"])
        assert api.get("/models").json()["champion"] in {champion, run["candidate_version"]}
