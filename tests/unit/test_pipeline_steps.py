"""The state machine's steps on the fakes: prepare a run's dataset, evaluate a candidate, deploy it (to the
ECS service's champion pointer, or to the SageMaker endpoint), watch it answer, and record the outcome; and
the scheduled monitor. The handlers around them run on moto in tests/integration/pipeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline_function.errors import (
    CandidateArtifactError,
    DeploymentFailedError,
    NoBaseDataError,
    NothingToDeployError,
)
from pipeline_function.logic.evaluate import TouchLimits, evaluate
from pipeline_function.logic.monitor import measure
from pipeline_function.logic.prepare import prepare
from pipeline_function.logic.record import record
from pipeline_function.logic.rollout import check, start
from pipeline_function.settings import DeploySettings
from pipeline_function.steps import (
    DeployInput,
    Deployment,
    EvaluateInput,
    Evaluation,
    Outcome,
    PrepareInput,
    RecordInput,
)
from sentiment_common.monitoring import CONFIDENCE_EDGES
from sentiment_common.observability import metrics
from sentiment_common.records import FeedbackRecord, PublicLabels, utc_now
from sentiment_common.registry import (
    Action,
    Decision,
    ModelRecord,
    ModelStatus,
    RunRequest,
    RunStatus,
    TrainingRun,
    Trigger,
)
from tests.fakes.datasets import FakeDatasets
from tests.fakes.pipeline import (
    FakeModelEndpoint,
    FakePipeline,
    FakeWithdrawnReviewers,
    model_archive,
    sha256,
)
from tests.fakes.stores import FakeModel, FakeMonitoringCounters, prediction

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
BASE_CSV = b"text,label\nlovely,positive\nawful,negative\n"
GOLDEN_CSV = b"text,label\nfine,neutral\n"
# The steps count business events (one with dimensions is emitted at once, and needs a namespace).
pytestmark = pytest.mark.usefixtures("metrics_namespace")

GOOD = {"reviews_accuracy": 0.90, "tweets_macro_f1": 0.82, "feedback_holdout_accuracy": 0.80}
CHAMPION_METRICS = {"reviews_accuracy": 0.86, "tweets_macro_f1": 0.80, "feedback_holdout_accuracy": 0.70}


@pytest.fixture
def pipeline() -> FakePipeline:
    return FakePipeline()


def _upload_training_data(pipeline: FakePipeline) -> None:
    pipeline.put("data/base/reviews.csv", BASE_CSV, "text/csv")
    pipeline.put("data/golden/golden.csv", GOLDEN_CSV, "text/csv")


def _register_champion(pipeline: FakePipeline, version: str = "v1") -> bytes:
    archive = model_archive({"version": version, "metrics": CHAMPION_METRICS})
    key = f"models/{version}/model.tar.gz"
    pipeline.put(key, archive, "application/gzip")
    created = {"metrics": CHAMPION_METRICS, "created_at": (NOW - timedelta(days=3)).isoformat()}
    assert pipeline.models.ensure_champion(version, pipeline.store.uri(key), sha256(archive), created)
    return archive


def _prepare(pipeline: FakePipeline, run_id: str = "run-000001") -> Any:
    request = PrepareInput(
        run_id=run_id,
        execution_arn=pipeline.workflow.execution_arn(run_id),
        request=RunRequest(trigger=Trigger.MANUAL, feedback_count=0),
    )
    return prepare(
        request,
        pipeline.runs,
        pipeline.models,
        pipeline.store,
        now=NOW,
        public_labels=PublicLabels.TRAIN,
        withdrawals=FakeWithdrawnReviewers(),
        datasets=FakeDatasets(),
    )


# ---- PrepareDataset ----


def test_prepare_keeps_the_latest_label_per_comment_and_writes_a_matching_manifest(pipeline: FakePipeline) -> None:
    _upload_training_data(pipeline)
    # The later label has the key that sorts first: the time decides, not the key.
    pipeline.feedback("positive", comment_id="c1", text="It was ok", created_at=NOW, feedback_id="aaaa")
    pipeline.feedback(
        "negative", comment_id="c1", text="It was ok", created_at=NOW - timedelta(hours=1), feedback_id="zzzz"
    )
    pipeline.feedback("neutral", text="Meh.", created_at=NOW - timedelta(minutes=30))
    pipeline.put("feedback/dt=2026-11-22/broken.json", b"{ broken")

    dataset = _prepare(pipeline)

    jsonl = pipeline.store.read("training-runs/run-000001/feedback/feedback.jsonl")
    rows = [FeedbackRecord.model_validate_json(line) for line in jsonl.splitlines()]
    assert [(row.comment_id, row.label) for row in rows] == [(None, "neutral"), ("c1", "positive")]
    manifest_bytes = pipeline.store.read("training-runs/run-000001/manifest.json")
    manifest = json.loads(manifest_bytes)
    assert manifest["feedback"] == {
        "objects": 4,
        "malformed": 1,
        "malformed_keys": ["feedback/dt=2026-11-22/broken.json"],
        "superseded": 1,
        "public_labels": "train",
        "sources": {"public": 2, "reviewer": 0},
        "dropped": {
            "withdrawn": 0,
            "public_labels_policy": 0,
            "outranked": 0,
            "superseded": 1,
            "unsupported_language": 0,
        },
        "rows": 2,
        "labels": {"negative": 0, "neutral": 1, "positive": 1},
        "sha256": sha256(jsonl),
    }
    assert manifest["base"] == {"base/reviews.csv": {"bytes": len(BASE_CSV), "sha256": sha256(BASE_CSV)}}
    assert manifest["golden"] == {"golden/golden.csv": {"bytes": len(GOLDEN_CSV), "sha256": sha256(GOLDEN_CSV)}}
    assert dataset.manifest_sha256 == sha256(manifest_bytes)
    assert dataset.manifest_uri == pipeline.store.uri("training-runs/run-000001/manifest.json")
    assert dataset.feedback_rows == 2
    assert dataset.candidate_version == "20261122-120000-run-000001"
    assert dataset.training_job_name == "sentiment-20261122-120000-run-000001"
    (step,) = pipeline.runs.get_run("run-000001").steps
    assert (step.step, step.detail["superseded"]) == ("prepare", 1)


def test_prepare_hands_the_champion_to_training(pipeline: FakePipeline) -> None:
    _upload_training_data(pipeline)
    archive = _register_champion(pipeline)

    dataset = _prepare(pipeline)

    assert pipeline.store.read("training-runs/run-000001/champion/model.tar.gz") == archive
    assert dataset.champion_sha256 == sha256(archive)
    assert dataset.champion_version == "v1"
    assert dataset.champion_uri == pipeline.store.uri("training-runs/run-000001/champion/")
    manifest = json.loads(pipeline.store.read("training-runs/run-000001/manifest.json"))
    assert manifest["champion"] == {"version": "v1", "sha256": sha256(archive)}


def test_without_a_champion_prepare_leaves_a_note_and_no_hash(pipeline: FakePipeline) -> None:
    _upload_training_data(pipeline)

    dataset = _prepare(pipeline)

    assert dataset.champion_sha256 == ""
    assert dataset.champion_version is None
    assert list(pipeline.store.keys("training-runs/run-000001/champion/")) == [
        "training-runs/run-000001/champion/NONE.txt"
    ]
    assert json.loads(pipeline.store.read("training-runs/run-000001/manifest.json"))["champion"] is None


@pytest.mark.parametrize("present", [None, "data/base/reviews.csv", "data/golden/golden.csv"])
def test_prepare_without_base_or_golden_data_fails_by_name(pipeline: FakePipeline, present: str | None) -> None:
    if present:
        pipeline.put(present, BASE_CSV, "text/csv")
    pipeline.feedback("positive")

    with pytest.raises(NoBaseDataError, match="make upload-data"):
        _prepare(pipeline)
    assert list(pipeline.store.keys("training-runs/")) == []


def test_prepare_records_a_run_started_outside_the_api(pipeline: FakePipeline) -> None:
    _upload_training_data(pipeline)
    pipeline.feedback("negative")

    dataset = _prepare(pipeline, "console-started")

    run = pipeline.runs.get_run("console-started")
    assert (run.status, run.trigger) == (RunStatus.RUNNING, Trigger.MANUAL)
    assert run.execution_arn == pipeline.workflow.execution_arn("console-started")
    assert run.candidate_version == dataset.candidate_version
    assert [step.step for step in run.steps] == ["prepare"]
    assert run.steps[0].detail["feedback_rows"] == 1


def test_prepare_keeps_what_the_trigger_recorded_about_its_run(pipeline: FakePipeline) -> None:
    _upload_training_data(pipeline)
    state = pipeline.state_store.state()
    claimed = pipeline.state_store.claim_run(state, RunRequest(trigger=Trigger.FEEDBACK, feedback_count=10))
    assert claimed is not None

    dataset = _prepare(pipeline, claimed.run_id)

    run = pipeline.runs.get_run(claimed.run_id)
    assert (run.trigger, run.feedback_count, run.started_at) == (Trigger.FEEDBACK, 10, claimed.started_at)
    assert run.candidate_version == dataset.candidate_version
    assert [step.step for step in run.steps] == ["prepare"]


def test_prepare_trains_on_reviewers_over_the_public_and_says_what_it_dropped(pipeline: FakePipeline) -> None:
    _upload_training_data(pipeline)
    pipeline.feedback("positive", comment_id="c1", reviewer="ana")
    for _ in range(3):
        pipeline.feedback("negative", comment_id="c1")
    pipeline.feedback("neutral", comment_id="c2", reviewer="mallory")

    dataset = prepare(
        PrepareInput(run_id="run-000001"),
        pipeline.runs,
        pipeline.models,
        pipeline.store,
        now=NOW,
        public_labels=PublicLabels.SUGGEST,
        withdrawals=FakeWithdrawnReviewers("mallory"),
        datasets=FakeDatasets(),
    )

    assert dataset.feedback_rows == 1
    [line] = pipeline.store.read("training-runs/run-000001/feedback/feedback.jsonl").splitlines()
    trained = FeedbackRecord.model_validate_json(line)
    assert (trained.reviewer, trained.label) == ("ana", "positive")
    feedback = json.loads(pipeline.store.read("training-runs/run-000001/manifest.json"))["feedback"]
    assert feedback["public_labels"] == "suggest"
    assert feedback["sources"] == {"public": 0, "reviewer": 1}
    assert feedback["dropped"] == {
        "withdrawn": 1,
        "public_labels_policy": 3,
        "outranked": 0,
        "superseded": 0,
        "unsupported_language": 0,
    }


# ---- EvaluateCandidate ----

VERSION = "20261122-120000-run-000001"
JOB = f"sentiment-{VERSION}"


def _candidate(
    pipeline: FakePipeline, metrics: dict[str, float], version: str = VERSION, data: dict[str, Any] | None = None
) -> tuple[EvaluateInput, bytes]:
    pipeline.runs.create_run(
        TrainingRun(run_id="run-000001", status=RunStatus.RUNNING, trigger=Trigger.FEEDBACK, started_at=NOW)
    )
    archive = model_archive(
        {
            "version": version,
            "metrics": metrics,
            "champion_metrics": {**CHAMPION_METRICS, "version": "v1"},
            "dataset": {"feedback_rows": 12, "manifest_sha256": "cd" * 32},
            "created_at": NOW.isoformat(),
            **({"data": data} if data else {}),
        }
    )
    key = pipeline.put(f"training-jobs/{JOB}/output/model.tar.gz", archive, "application/gzip")
    request = EvaluateInput(
        run_id="run-000001", candidate_version=VERSION, model_data_url=pipeline.store.uri(key), training_job_name=JOB
    )
    return request, archive


def _evaluate(pipeline: FakePipeline, request: EvaluateInput) -> Evaluation:
    """EvaluateCandidate with the template's default gate: tolerance 0.01, floor 0.70, flips 5% / 50%."""
    return evaluate(
        request,
        pipeline.models,
        pipeline.runs,
        pipeline.store,
        tolerance=0.01,
        floor=0.70,
        touch=TouchLimits(0.05, 0.5),
    )


def test_a_better_candidate_is_registered_and_promoted(pipeline: FakePipeline) -> None:
    request, archive = _candidate(pipeline, GOOD)

    evaluation = _evaluate(pipeline, request)

    assert evaluation.promote is True
    assert evaluation.sha256 == sha256(archive)
    assert evaluation.model_data_url == pipeline.store.uri(f"models/{VERSION}/model.tar.gz")
    assert pipeline.store.read(f"models/{VERSION}/model.tar.gz") == archive
    assert json.loads(pipeline.store.read(f"models/{VERSION}/metadata.json"))["version"] == VERSION
    model = pipeline.models.get_model(VERSION)
    assert model.status is ModelStatus.CANDIDATE
    assert model.sha256 == sha256(archive)
    assert model.metrics == GOOD
    assert model.champion_metrics == CHAMPION_METRICS
    assert model.training_run == "run-000001"
    assert model.dataset == {"feedback_rows": 12, "manifest_sha256": "cd" * 32}
    assert model.created_at == NOW
    assert [step.step for step in pipeline.runs.get_run("run-000001").steps] == ["evaluate"]


def test_a_candidate_is_registered_with_the_data_set_and_licences_it_was_built_with(pipeline: FakePipeline) -> None:
    from sentiment_model.sources import card  # noqa: PLC0415 - what training writes into metadata.json

    data = card("all", {"rotten-tomatoes-reviews": 10, "crowdflower-airline-tweets": 5}, {})
    request, _ = _candidate(pipeline, GOOD, data={**data, "feedback_rows": 12})

    _evaluate(pipeline, request)

    registered = pipeline.models.get_model(VERSION).card
    assert registered is not None
    assert registered.data_set == "all"
    assert registered.non_commercial is True
    assert registered.licences == ["Apache-2.0", "CC-BY-NC-SA-4.0"]
    assert [source.rows for source in registered.sources] == [10, 5]


def test_a_much_worse_candidate_is_registered_as_rejected_with_reasons(pipeline: FakePipeline) -> None:
    request, _ = _candidate(pipeline, {**GOOD, "tweets_macro_f1": 0.60})

    evaluation = _evaluate(pipeline, request)

    assert evaluation.promote is False
    assert "tweets_macro_f1 0.6000 is below the floor 0.70" in evaluation.reasons
    assert "tweets_macro_f1 0.6000 is 0.2000 below the champion's 0.8000 (tolerance 0.01)" in evaluation.reasons
    model = pipeline.models.get_model(VERSION)
    assert model.status is ModelStatus.REJECTED
    assert model.reasons == evaluation.reasons
    step = pipeline.runs.get_run("run-000001").steps[-1]
    assert step.detail == {"promote": False, "decision": "rejected", "reasons": evaluation.reasons}


def test_a_candidate_that_flips_answers_near_its_new_labels_is_registered_as_held(pipeline: FakePipeline) -> None:
    # Given a candidate as good as the champion on the golden split that answers 12 of the 40 nearest
    # labelled texts the champion got right otherwise
    touching = {"neighbour_flips": 12, "neighbours_champion_agreed": 40, "neighbour_flip_share": 0.3}
    request, _ = _candidate(pipeline, {**GOOD, **touching})

    # When it is evaluated
    evaluation = _evaluate(pipeline, request)

    # Then it is neither promoted nor rejected: held, and the registry and the run say why
    assert (evaluation.promote, evaluation.held) == (False, True)
    assert evaluation.reasons[-2:] == [
        "12 of 40 nearest labelled texts the champion answered as people did are now answered otherwise, "
        "above the limit 5%",
        f"held for review; promote it by hand with POST /models/{VERSION}/promote if the labels are right",
    ]
    model = pipeline.models.get_model(VERSION)
    assert model.status is ModelStatus.HELD
    assert model.reasons == evaluation.reasons
    assert pipeline.runs.get_run("run-000001").steps[-1].detail["decision"] == "held"


def test_a_candidate_is_compared_with_the_best_champion_so_far_not_only_the_current_one(pipeline: FakePipeline) -> None:
    # Given a first champion better than today's (each promotion lost a little)
    first = model_archive({"version": "first", "metrics": {**CHAMPION_METRICS, "reviews_accuracy": 0.90}})
    key = pipeline.put("models/first/model.tar.gz", first, "application/gzip")
    pipeline.models.ensure_champion(
        "first", pipeline.store.uri(key), sha256(first), {"metrics": {**CHAMPION_METRICS, "reviews_accuracy": 0.90}}
    )
    # and a candidate within the tolerance of today's champion (0.86) but 0.045 below the first
    request, _ = _candidate(pipeline, {**GOOD, "reviews_accuracy": 0.855})

    evaluation = _evaluate(pipeline, request)

    assert evaluation.promote is False
    assert any("below 0.9000, the best a champion has had" in reason for reason in evaluation.reasons)
    assert pipeline.models.get_model(VERSION).status is ModelStatus.REJECTED


def test_an_archive_of_another_version_is_refused_and_nothing_is_registered(pipeline: FakePipeline) -> None:
    request, _ = _candidate(pipeline, GOOD, version="some-other-version")

    with pytest.raises(CandidateArtifactError, match="some-other-version"):
        _evaluate(pipeline, request)
    assert pipeline.models.list_models() == []
    assert list(pipeline.store.keys("models/")) == []


# ---- DeployModel, CheckDeployment, RecordRun ----


@pytest.fixture
def ecs() -> DeploySettings:
    """DeployModel's settings on the ECS backend: 3 checks 20 s apart before it gives up."""
    return DeploySettings(
        registry_table="registry",
        data_bucket="data-bucket",
        inference_backend="ecs",
        model_url="http://model:8080",
        deploy_poll_seconds=20,
        deploy_timeout_seconds=60,
    )


@pytest.fixture
def sagemaker(ecs: DeploySettings) -> DeploySettings:
    return DeploySettings.model_validate(
        ecs.model_dump()
        | {
            "inference_backend": "sagemaker",
            "sagemaker_endpoint_name": "sentiment",
            "model_image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment-model:7",
            "sagemaker_role_arn": "arn:aws:iam::123456789012:role/sagemaker-model",
        }
    )


def _deploy_v2(
    pipeline: FakePipeline, run_id: str, settings: DeploySettings, endpoint: FakeModelEndpoint | None = None
) -> Deployment:
    return start(
        DeployInput(run_id=run_id, version="v2"),
        pipeline.models,
        pipeline.runs,
        pipeline.store,
        endpoint=endpoint,
        settings=settings,
    )


def _candidate_v2(pipeline: FakePipeline) -> str:
    """Champion v1, candidate v2 evaluated by run-000001, which holds the run slot."""
    _register_champion(pipeline, "v1")
    archive = model_archive({"version": "v2", "metrics": GOOD})
    key = pipeline.put("models/v2/model.tar.gz", archive, "application/gzip")
    pipeline.models.put_model(
        ModelRecord(
            version="v2",
            status=ModelStatus.CANDIDATE,
            metrics=GOOD,
            champion_metrics=CHAMPION_METRICS,
            reasons=["reviews_accuracy 0.9000 against the champion's 0.8600"],
            dataset={},
            created_at=NOW,
            training_run="run-000001",
            model_data_url=pipeline.store.uri(key),
            sha256=sha256(archive),
        )
    )
    run = pipeline.state_store.claim_run(
        pipeline.state_store.state(), RunRequest(trigger=Trigger.FEEDBACK, feedback_count=10)
    )
    assert run is not None
    return run.run_id


def test_deploying_points_the_service_at_the_version(pipeline: FakePipeline, ecs: DeploySettings) -> None:
    run_id = _candidate_v2(pipeline)

    deployment = _deploy_v2(pipeline, run_id, ecs)

    pointer = pipeline.store.pointer()
    assert pointer is not None
    model = pipeline.models.get_model("v2")
    assert (pointer["version"], pointer["model_data_url"], pointer["sha256"]) == (
        "v2",
        model.model_data_url,
        model.sha256,
    )
    assert (deployment.version, deployment.backend, deployment.max_checks, deployment.ready) == ("v2", "ecs", 3, False)
    assert deployment.reasons == model.reasons
    assert pipeline.runs.get_run(run_id).steps[-1].detail == {"version": "v2", "backend": "ecs"}
    champion = pipeline.models.champion()
    assert champion is not None
    assert champion.version == "v1"  # until the new model answers and the run is recorded


def test_a_service_that_never_serves_the_new_version_fails_the_deployment(
    pipeline: FakePipeline, ecs: DeploySettings
) -> None:
    deployment = _deploy_v2(pipeline, _candidate_v2(pipeline), ecs)
    service = FakeModel(version="v1")  # the service's ping, through the HTTP client: tests/integration/pipeline

    for _ in range(deployment.max_checks - 1):
        deployment = check(deployment, None, service)
        assert deployment.ready is False
    with pytest.raises(DeploymentFailedError, match="still answers with v1 after 3 checks, not v2"):
        check(deployment, None, service)


def _on_sagemaker(pipeline: FakePipeline, sagemaker: DeploySettings) -> tuple[Deployment, FakeModelEndpoint]:
    """Candidate v2 deployed to the endpoint (which takes it at once, unless a test says otherwise)."""
    endpoint = FakeModelEndpoint()
    return _deploy_v2(pipeline, _candidate_v2(pipeline), sagemaker, endpoint), endpoint


def test_nothing_is_deployed_without_an_endpoint(pipeline: FakePipeline, sagemaker: DeploySettings) -> None:
    run_id = _candidate_v2(pipeline)

    with pytest.raises(NothingToDeployError, match="no SageMaker endpoint is configured"):
        _deploy_v2(pipeline, run_id, sagemaker, endpoint=None)
    with pytest.raises(NothingToDeployError, match="deploy the stack with ModelImageUri"):
        _deploy_v2(
            pipeline, run_id, DeploySettings.model_validate(sagemaker.model_dump() | {"sagemaker_endpoint_name": ""})
        )
    assert pipeline.store.pointer() is None


def test_a_sagemaker_deployment_serves_the_registered_model_with_its_hashes_under_a_new_configuration(
    pipeline: FakePipeline, sagemaker: DeploySettings
) -> None:
    deployment, endpoint = _on_sagemaker(pipeline, sagemaker)

    model = pipeline.models.get_model("v2")
    (release,) = endpoint.releases
    assert (release.version, release.run_id, release.model_data_url) == ("v2", deployment.run_id, model.model_data_url)
    assert (release.image, release.role_arn) == (sagemaker.model_image_uri, sagemaker.sagemaker_role_arn)
    # A model registered before the registry kept its model.joblib's hash: read from its checked archive.
    assert release.model_sha256 == sha256(b"\x80\x04 any bytes stand for the model")
    assert deployment.endpoint_config_name == endpoint.config_name
    assert (deployment.backend, deployment.ready) == ("sagemaker", False)
    assert pipeline.store.pointer() is None  # the ECS service's pointer is not SageMaker's


def test_a_model_whose_archive_does_not_match_the_registry_is_not_deployed(
    pipeline: FakePipeline, sagemaker: DeploySettings
) -> None:
    run_id = _candidate_v2(pipeline)
    pipeline.put("models/v2/model.tar.gz", model_archive({"version": "v2"}, model=b"another model"))
    endpoint = FakeModelEndpoint()

    with pytest.raises(DeploymentFailedError, match="does not match the SHA-256 the registry records for model v2"):
        _deploy_v2(pipeline, run_id, sagemaker, endpoint)
    assert endpoint.releases == []


def test_an_endpoint_is_ready_once_in_service_on_the_new_configuration_and_answering_with_the_version(
    pipeline: FakePipeline, sagemaker: DeploySettings
) -> None:
    deployment, endpoint = _on_sagemaker(pipeline, sagemaker)
    served = FakeModel(version="v1")

    endpoint.status = "Updating"
    updating = check(deployment, endpoint, served)
    endpoint.status, served.version = "InService", "v2"
    ready = check(updating, endpoint, served)

    assert (updating.ready, ready.ready, ready.checks) == (False, True, 2)


@pytest.mark.parametrize(
    ("status", "config_name", "failure"),
    [
        ("Failed", None, "endpoint sentiment is Failed: out of capacity"),
        ("InService", "sentiment-v1", "endpoint sentiment stayed on sentiment-v1: out of capacity"),
    ],
)
def test_an_endpoint_that_failed_or_rolled_back_fails_the_deployment_with_sagemakers_reason(
    pipeline: FakePipeline, sagemaker: DeploySettings, status: str, config_name: str | None, failure: str
) -> None:
    deployment, endpoint = _on_sagemaker(pipeline, sagemaker)
    endpoint.status, endpoint.failure_reason = status, "out of capacity"
    endpoint.config_name = config_name or endpoint.config_name

    with pytest.raises(DeploymentFailedError, match=failure):
        check(deployment, endpoint, FakeModel(version="v2"))


def test_a_promoted_run_makes_the_version_champion_and_frees_the_slot(
    pipeline: FakePipeline, ecs: DeploySettings
) -> None:
    run_id = _candidate_v2(pipeline)
    _deploy_v2(pipeline, run_id, ecs)
    outcome = Outcome(status="SUCCEEDED", decision="promoted", version="v2", metrics=GOOD, reasons=["better"])

    answer = record(RecordInput(run_id=run_id, outcome=outcome), pipeline.models, pipeline.runs, pipeline.store)

    assert answer == {"run_id": run_id, "status": "SUCCEEDED", "decision": "promoted"}
    champion = pipeline.models.champion()
    assert champion is not None
    assert (champion.version, champion.previous_version) == ("v2", "v1")
    assert pipeline.models.get_model("v2").status is ModelStatus.CHAMPION
    assert pipeline.models.get_model("v1").status is ModelStatus.RETIRED
    run = pipeline.runs.get_run(run_id)
    assert (run.status, run.decision, run.candidate_version) == (RunStatus.SUCCEEDED, Decision.PROMOTED, "v2")
    assert (run.metrics, run.reasons) == (GOOD, ["better"])
    assert pipeline.state_store.state().active_run is None
    pointer = pipeline.store.pointer()
    assert pointer is not None
    assert pointer["version"] == "v2"


def test_a_failed_run_is_recorded_readably_and_the_service_goes_back_to_the_champion(
    pipeline: FakePipeline, ecs: DeploySettings
) -> None:
    run_id = _candidate_v2(pipeline)
    _deploy_v2(pipeline, run_id, ecs)
    cause = {"errorMessage": "the service still answers with v1", "errorType": "DeploymentFailedError"}
    outcome = Outcome(status="FAILED", error={"Error": "DeploymentFailedError", "Cause": json.dumps(cause)})

    answer = record(RecordInput(run_id=run_id, outcome=outcome), pipeline.models, pipeline.runs, pipeline.store)

    assert answer == {"run_id": run_id, "status": "FAILED", "decision": None}
    run = pipeline.runs.get_run(run_id)
    assert run.status is RunStatus.FAILED
    assert run.error == "DeploymentFailedError: the service still answers with v1"
    assert run.decision is None
    champion = pipeline.models.champion()
    assert champion is not None
    assert champion.version == "v1"
    assert pipeline.models.get_model("v2").status is ModelStatus.CANDIDATE
    pointer = pipeline.store.pointer()
    assert pointer is not None
    assert (pointer["version"], pointer["sha256"]) == ("v1", champion.sha256)
    assert pipeline.state_store.state().active_run is None


@pytest.mark.parametrize("decision", [Decision.REJECTED, Decision.HELD])
def test_a_rejected_or_held_run_is_recorded_and_the_champion_stays(pipeline: FakePipeline, decision: Decision) -> None:
    run_id = _candidate_v2(pipeline)
    outcome = Outcome(status="SUCCEEDED", decision=decision.value, version="v2", metrics=GOOD, reasons=["worse"])

    record(RecordInput(run_id=run_id, outcome=outcome), pipeline.models, pipeline.runs, pipeline.store)

    run = pipeline.runs.get_run(run_id)
    assert (run.status, run.decision, run.reasons) == (RunStatus.SUCCEEDED, decision, ["worse"])
    champion = pipeline.models.champion()
    assert champion is not None
    assert champion.version == "v1"
    assert pipeline.store.pointer() is None
    assert pipeline.state_store.state().active_run is None


def test_recording_the_same_outcome_twice_changes_nothing_the_second_time(pipeline: FakePipeline) -> None:
    run_id = _candidate_v2(pipeline)
    outcome = Outcome(status="SUCCEEDED", decision="promoted", version="v2", metrics=GOOD, reasons=["better"])
    record(RecordInput(run_id=run_id, outcome=outcome), pipeline.models, pipeline.runs, pipeline.store)
    first = pipeline.runs.get_run(run_id)

    record(RecordInput(run_id=run_id, outcome=outcome), pipeline.models, pipeline.runs, pipeline.store)

    assert pipeline.runs.get_run(run_id) == first
    champion = pipeline.models.champion()
    assert champion is not None
    assert (champion.version, champion.previous_version) == ("v2", "v1")


def test_a_failed_run_that_no_step_recorded_still_leaves_the_runs_readable(pipeline: FakePipeline) -> None:
    # A rollback started from the console (input {"action": "promote", ...}) has no run record: no
    # PrepareDataset step creates one, DeployModel fails to find it, and RecordRun records the failure.
    _register_champion(pipeline, "v1")
    cause = {"errorMessage": "no training run 'console-rollback'", "errorType": "NotFoundError"}
    outcome = Outcome(status="FAILED", error={"Error": "NotFoundError", "Cause": json.dumps(cause)})

    record(RecordInput(run_id="console-rollback", outcome=outcome), pipeline.models, pipeline.runs, pipeline.store)

    runs, _ = pipeline.runs.list_runs(10, None)  # what GET /training shows
    assert [(run.run_id, run.status, run.error) for run in runs] in (
        [],
        [("console-rollback", RunStatus.FAILED, "NotFoundError: no training run 'console-rollback'")],
    )


def test_a_promotion_by_hand_is_recorded_as_a_rollback_run(pipeline: FakePipeline, ecs: DeploySettings) -> None:
    _register_champion(pipeline, "v1")

    deployment = start(
        DeployInput(run_id="console-rollback", version="v1"),
        pipeline.models,
        pipeline.runs,
        pipeline.store,
        endpoint=None,
        settings=ecs,
    )

    assert deployment.reasons == ["promoted by hand"]
    run = pipeline.runs.get_run("console-rollback")
    assert (run.trigger, run.action, run.candidate_version) == (Trigger.ROLLBACK, Action.PROMOTE, "v1")


# ---- the scheduled monitor ----


def test_the_monitor_reports_the_queue_and_no_drift_without_a_champion(pipeline: FakePipeline) -> None:
    counters = FakeMonitoringCounters()
    counters.classified([prediction() for _ in range(4)], utc_now().date())

    assert measure(pipeline.models, counters) == {"review_queue": 4, "drift": None}


BASELINE = {
    "rows": 100,
    "labels": {"negative": 0.4, "neutral": 0.2, "positive": 0.4},
    "confidence_edges": list(CONFIDENCE_EDGES),
    "confidence": [0.0, 0.1, 0.1, 0.1, 0.2, 0.2, 0.3],
}


def test_the_monitor_gives_the_champions_drift_once_enough_comments_were_classified(pipeline: FakePipeline) -> None:
    # Given a champion whose baseline spreads its answers 40/20/40 over the bins
    pipeline.models.ensure_champion("v1", "s3://b/models/v1/model.tar.gz", "ab" * 32, {"baseline": BASELINE})
    counters = FakeMonitoringCounters()

    # When too few comments were classified, then there is no drift figure, and the reason says why
    too_few = measure(pipeline.models, counters)["drift"]
    assert (too_few["psi"], too_few["reason"]) == (None, "0 comments in the window; drift needs at least 50")
    assert "PredictionDrift" not in metrics.metric_set

    # When 60 comments were all answered positive and very sure, then the drift is far above 1
    counters.classified([prediction("positive", 0.97)] * 60, utc_now().date())
    drift = measure(pipeline.models, counters)["drift"]
    assert drift["psi"] == max(drift["labels"]["psi"], drift["confidence"]["psi"]) > 1
    assert "PredictionDrift" in metrics.metric_set
