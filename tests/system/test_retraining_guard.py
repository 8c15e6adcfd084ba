"""What must not get through, on ``make up`` with the ECS backend: poisoned feedback is trained on
and rejected, a training job that fails leaves everything as it was, and an administrator can roll
the champion back and forth. Runs are started by hand (``POST /training``), so the threshold is out
of the way."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from sentiment_template.reader import Template
from tests.conftest import ROOT
from tests.system.conftest import LocalStack, labelled_rows, module_stack, notifications, wait_for_run

POISON = 1500
FLIPPED = {"positive": "negative", "negative": "positive"}


local_stack = module_stack("retraining-guard", BACKEND="ecs", RETRAIN_THRESHOLD="1000000", PUBLIC_LABELS="train")


@pytest.fixture(scope="module")
def admin(local_stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {(local_stack.data / 'admin-api-key').read_text().strip()}"}


def _served_version(api: httpx.Client) -> str:
    version: str = api.post("/comments", json={"comment": "which model is this?"}).json()["model_version"]
    return version


def test_admin_routes_refuse_anonymous_and_wrong_keys(api: httpx.Client) -> None:
    # The gateway runs the template's admin authorizer, as API Gateway does: 401 without the header,
    # 403 when the authorizer function refuses what it holds.
    anonymous = api.post("/training")
    assert (anonymous.status_code, anonymous.json()) == (401, {"message": "Unauthorized"})
    assert api.post("/training", headers={"x-api-key": "guess"}).status_code == 401
    wrong = api.post("/training", headers={"Authorization": "Bearer guess"})
    assert (wrong.status_code, wrong.json()) == (403, {"message": "Forbidden"})
    assert api.post("/models/anything/promote", headers={"Authorization": "Bearer guess"}).status_code == 403
    assert api.get("/training").json()["items"] == []


def test_poisoned_feedback_is_rejected_and_the_champion_stays(
    api: httpx.Client, admin: dict[str, str], local_stack: LocalStack
) -> None:
    champion = api.get("/models").json()["champion"]
    poison = [(text, FLIPPED[label]) for text, label in labelled_rows("reviews", POISON, seed=7)]

    def give(row: tuple[str, str]) -> int:
        return api.post("/feedback", json={"text": row[0], "label": row[1]}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(give, poison)) == {201}

    started = api.post("/training", headers=admin)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    assert started.headers["location"] == f"/training/{run_id}"
    assert api.post("/training", headers=admin).status_code == 409, "a second run started while one is active"
    run = wait_for_run(api, run_id)

    assert run["status"] == "SUCCEEDED", run
    assert run["decision"] == "rejected", run["reasons"]
    assert any("below the champion" in reason for reason in run["reasons"]), run["reasons"]
    registry = api.get("/models").json()
    assert registry["champion"] == champion
    assert api.get(f"/models/{run['candidate_version']}").json()["status"] == "rejected"
    assert _served_version(api) == champion
    assert any(run_id in str(message) and "rejected" in str(message) for message in notifications(local_stack))


def test_a_training_job_that_fails_changes_nothing_and_says_why(
    api: httpx.Client, admin: dict[str, str], local_stack: LocalStack
) -> None:
    champion = api.get("/models").json()["champion"]
    bucket = Template.read(ROOT / "template.yaml").physical_name("DataBucket")
    s3 = local_stack.client("s3")
    s3.put_object(Bucket=bucket, Key="data/base/broken.csv", Body=b"comment,sentiment\nhello,positive\n")
    try:
        run_id = api.post("/training", headers=admin).json()["run_id"]
        run = wait_for_run(api, run_id)
    finally:
        s3.delete_object(Bucket=bucket, Key="data/base/broken.csv")

    assert run["status"] == "FAILED", run
    assert run["decision"] is None
    assert "broken.csv" in run["error"], run["error"]
    assert api.get("/models").json()["champion"] == champion
    assert _served_version(api) == champion
    assert any(run_id in str(message) and "FAILED" in str(message) for message in notifications(local_stack))


def test_an_administrator_rolls_the_champion_back_and_forth(api: httpx.Client, admin: dict[str, str]) -> None:
    # Runs after the failed one: its run slot must have been freed.
    registry = api.get("/models").json()
    champion = registry["champion"]
    other = next(model["version"] for model in registry["items"] if model["version"] != champion)
    assert api.post(f"/models/{champion}/promote", headers=admin).status_code == 409
    assert api.post("/models/no-such-version/promote", headers=admin).status_code == 404

    for version in (other, champion):
        started = api.post(f"/models/{version}/promote", headers=admin)
        assert started.status_code == 202, started.text
        assert started.json()["trigger"] == "rollback"
        run = wait_for_run(api, started.json()["run_id"], timeout=120)
        assert (run["status"], run["decision"]) == ("SUCCEEDED", "promoted"), run
        assert api.get("/models").json()["champion"] == version
        assert _served_version(api) == version
