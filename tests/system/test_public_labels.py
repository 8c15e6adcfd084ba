"""Who may teach the model, on ``make up`` with its defaults: anonymous labels are suggestions. The ten
that once flipped a phrase through a promoted run now start no run, change no comment's label, and put
each comment at the front of the review queue with the suggestion for a reviewer to confirm or correct."""

from __future__ import annotations

import json
import time

import httpx

from tests.system.conftest import LocalStack, module_stack

PHRASE = "BrandZed support is great, they solved it in minutes"
LABELS = 10  # the template's RetrainThreshold: under PublicLabels=train these ten would start a run
TRIGGER_WAIT_S = 60


local_stack = module_stack("public-labels")


def left_uncounted(stack: LocalStack) -> int:
    """Feedback objects the trigger read and kept from the count, as its log lines say."""
    path = stack.data / "logs" / "FeedbackTriggerFunction.log"
    if not path.exists():
        return 0
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"feedback counted"' in line:
            total += json.loads(line).get("not_training", 0)
    return total


def test_anonymous_labels_in_the_default_setting_start_no_run_and_wait_for_a_reviewer(
    api: httpx.Client, local_stack: LocalStack
) -> None:
    # Given the stack as make up starts it, and ten comments of the phrase the model calls positive
    comments = [api.post("/comments", json={"comment": f"{PHRASE} #{n}"}).json() for n in range(LABELS)]
    assert all(comment["sentiment"] == "positive" for comment in comments), comments

    # When anyone labels every one of them negative
    for comment in comments:
        answer = api.post("/feedback", json={"comment_id": comment["comment_id"], "label": "negative"})
        assert answer.status_code == 201, answer.text
        assert answer.json()["use"] == "suggestion"

    # Then the feedback trigger reads all ten and counts none toward the threshold
    deadline = time.monotonic() + TRIGGER_WAIT_S
    while left_uncounted(local_stack) < LABELS and time.monotonic() < deadline:
        time.sleep(1)
    assert left_uncounted(local_stack) == LABELS
    training = api.get("/training").json()
    assert (training["items"], training["pending_feedback"]) == ([], 0)
    # and no comment's label changed, while each waits first in the review queue with the suggestion
    ids = {comment["comment_id"] for comment in comments}
    queue = api.get("/comments", params={"needs_review": "true", "limit": LABELS}).json()["items"]
    assert {item["comment_id"] for item in queue} == ids
    assert all((item["suggested_label"], item["feedback"]) == ("negative", None) for item in queue)
    # and the public's disagreement shows apart from reviewers' in monitoring
    by_source = api.get("/monitoring", params={"days": 1}).json()["agreement_by_source"]
    assert by_source["public"] == {"count": LABELS, "agreement": 0.0}
    assert by_source["reviewer"]["count"] == 0
    # and the phrase is answered as before
    assert api.post("/comments", json={"comment": PHRASE}).json()["sentiment"] == "positive"
