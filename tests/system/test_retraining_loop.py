"""The retraining loop on ``make up`` as a user drives it: people's feedback through the API reaches
the threshold, a run starts by itself, trains on SageMaker's layout with train.py, is evaluated,
promoted and deployed through the SageMaker endpoint, and ``POST /comments`` answers with the new
champion, with no restart."""

from __future__ import annotations

import json
import tarfile
from typing import Any

import httpx
import pytest

from sentiment_template.reader import Template
from tests.conftest import ROOT
from tests.system.conftest import (
    LocalStack,
    labelled_rows,
    module_stack,
    notifications,
    wait_for_new_run,
    wait_for_run,
)

THRESHOLD = 10


local_stack = module_stack("retraining-loop", RETRAIN_THRESHOLD=str(THRESHOLD), PUBLIC_LABELS="train")


def _classify_and_confirm(api: httpx.Client, rows: list[tuple[str, str]]) -> None:
    for text, label in rows:
        comment = api.post("/comments", json={"comment": text})
        assert comment.status_code == 201, comment.text
        feedback = api.post("/feedback", json={"comment_id": comment.json()["comment_id"], "label": label})
        assert feedback.status_code == 201, feedback.text


def test_feedback_reaching_the_threshold_retrains_promotes_and_serves_the_new_champion(
    api: httpx.Client, local_stack: LocalStack
) -> None:
    registry = api.get("/models").json()
    first = registry["champion"]
    assert [model["status"] for model in registry["items"]] == ["champion"]
    assert api.post("/comments", json={"comment": "fine"}).json()["model_version"] == first

    rows = labelled_rows("tweets", THRESHOLD, seed=1)
    _classify_and_confirm(api, rows[:-1])
    assert api.get("/training").json()["items"] == [], "a run started below the threshold"

    _classify_and_confirm(api, rows[-1:])
    run = wait_for_new_run(api, known=set())
    assert run["trigger"] == "feedback"
    assert run["feedback_count"] == THRESHOLD
    finished = wait_for_run(api, run["run_id"])

    assert finished["status"] == "SUCCEEDED", finished
    assert finished["decision"] == "promoted", finished["reasons"]
    candidate = finished["candidate_version"]
    assert [step["step"] for step in finished["steps"]] == ["prepare", "evaluate", "deploy"]
    assert finished["metrics"]["reviews_accuracy"] > 0.7

    registry = api.get("/models").json()
    assert registry["champion"] == candidate
    statuses = {model["version"]: model["status"] for model in registry["items"]}
    assert statuses == {candidate: "champion", first: "retired"}
    model = api.get(f"/models/{candidate}").json()
    assert model["training_run"] == run["run_id"]
    assert model["dataset"]["feedback"]["rows"] == THRESHOLD
    # The champion was scored again on the same golden split by the training job: the figures it
    # recorded itself (with the code of its own day) are close, not necessarily equal.
    assert model["champion_metrics"]["reviews_accuracy"] == pytest.approx(
        registry["items"][1]["metrics"]["reviews_accuracy"], abs=0.02
    )

    # Retrained as the default kind, heads on the bundled encoder, which the registry names.
    encoder = json.loads((ROOT / "model_training" / "encoders" / "minilm-sentiment" / "encoder.json").read_text())
    assert model["kind"] == "encoder"
    assert model["encoder"] == {
        "name": "minilm-sentiment",
        "sha256": encoder["files"]["model.onnx"],
        "licence": "Apache-2.0",
    }

    answer = api.post("/comments", json={"comment": "Brilliant support, thank you!"}).json()
    assert answer["model_version"] == candidate
    health = api.get("/health").json()["model"]
    assert health["model_version"] == candidate
    assert (health["kind"], health["encoder"]) == ("encoder", model["encoder"])
    sent = [message for message in notifications(local_stack) if run["run_id"] in str(message)]
    assert sent, "no notification for the run"


def test_the_run_left_sagemakers_traces_in_the_local_aws(api: httpx.Client, local_stack: LocalStack) -> None:
    run = api.get("/training").json()["items"][0]
    candidate = run["candidate_version"]
    template = Template.read(ROOT / "template.yaml")
    bucket = template.physical_name("DataBucket")
    s3 = local_stack.client("s3")
    sagemaker = local_stack.client("sagemaker")

    job = sagemaker.describe_training_job(TrainingJobName=f"sentiment-{candidate}")
    assert job["TrainingJobStatus"] == "Completed"
    artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{bucket}/training-jobs/sentiment-{candidate}/output/model.tar.gz"
    local = local_stack.data / "candidate.tar.gz"
    local.write_bytes(s3.get_object(Bucket=bucket, Key=artifact.split("/", 3)[3])["Body"].read())
    with tarfile.open(local) as archive:
        assert {"model.joblib", "metadata.json", "metrics.json"} <= set(archive.getnames())

    endpoint = sagemaker.describe_endpoint(EndpointName=template.physical_name("ModelEndpoint"))
    assert endpoint["EndpointStatus"] == "InService"
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == f"s3://{bucket}/models/{candidate}/model.tar.gz"

    manifest: dict[str, Any] = json.loads(
        s3.get_object(Bucket=bucket, Key=f"training-runs/{run['run_id']}/manifest.json")["Body"].read()
    )
    assert manifest["feedback"]["rows"] == THRESHOLD
    assert set(manifest["base"]) == {"base/plots.csv", "base/reviews.csv", "base/tweets.csv"}
