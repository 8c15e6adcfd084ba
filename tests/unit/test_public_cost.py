"""What an anonymous caller can make the stack spend or say: /health checks the model at most once per
window and tells the public nothing of the raw error; an explanation is computed once per comment and
champion; a comment past its retention is gone. No network: the SageMaker client on counting stand-ins
for its boto3 clients, the logic on the fakes of tests/fakes, a fake clock."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from api_function.logic.comments import create_comment, explain_comment, list_comments
from api_function.logic.health import model_health
from sentiment_common.dal.comments import EXPIRES_AT, LISTED, to_item
from sentiment_common.errors import ModelUnavailableError, NotFoundError, ServiceUnavailableError
from sentiment_common.inference import ProbedModel, SageMakerModel
from sentiment_common.records import Comment, CommentStatus, FeedbackMark, Readiness
from sentiment_common.registry import Champion
from sentiment_common.settings import InferenceSettings
from sentiment_template import cloudformation
from sentiment_template.reader import load
from tests.conftest import ROOT
from tests.fakes.registry import FakeRegistry
from tests.fakes.stores import FakeCommentStore, FakeModel, prediction
from tests.unit.test_api_logic import services

pytestmark = pytest.mark.usefixtures("metrics_namespace")

ENDPOINT = "sentiment-dev-endpoint"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/sentiment-dev-ApiFunctionRole-1AB2C3D4/sentiment-dev-api"
REFUSAL = (
    f"User: {ROLE_ARN} is not authorized to perform: sagemaker:InvokeEndpoint on resource: "
    f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{ENDPOINT}"
)
WINDOW_S = 10.0
NOW = datetime.now(UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Control:
    """sagemaker's DescribeEndpoint: in service, on a serverless variant, counted."""

    def __init__(self) -> None:
        self.calls = 0

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
        self.calls += 1
        variant = {"VariantName": "champion", "CurrentServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}
        return {"EndpointName": EndpointName, "EndpointStatus": "InService", "ProductionVariants": [variant]}


class Runtime:
    """sagemaker-runtime's InvokeEndpoint: answers, or refuses as IAM does, counted."""

    def __init__(self, refusal: str | None = None) -> None:
        self.calls = 0
        self.refusal = refusal

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        if self.refusal:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": self.refusal}}, "InvokeEndpoint")
        body = json.dumps({"predictions": [prediction(version="v7").model_dump()]}).encode()
        return {"Body": StreamingBody(io.BytesIO(body), len(body))}


def sagemaker(monkeypatch: pytest.MonkeyPatch, runtime: Runtime, control: Any) -> SageMakerModel:
    model = SageMakerModel(InferenceSettings(inference_backend="sagemaker", sagemaker_endpoint_name=ENDPOINT))
    for name, client in (("_runtime", runtime), ("_probe", runtime), ("_control", control)):
        monkeypatch.setitem(vars(model), name, client)  # what the cached properties would hold
    return model


# ---- /health: one check per window, whatever the number of callers ----


def test_a_flood_of_health_calls_invokes_the_endpoint_once_per_window(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime, control, clock = Runtime(), Control(), Clock()
    given = services(model=ProbedModel(sagemaker(monkeypatch, runtime, control), WINDOW_S, clock))

    answers = [model_health(given)[0] for _ in range(1000)]
    clock.now += WINDOW_S - 0.1
    answers += [model_health(given)[0] for _ in range(1000)]

    assert (runtime.calls, control.calls) == (1, 1)
    assert {(health.status, health.model_version) for health in answers} == {(Readiness.READY, "v7")}
    assert len({health.checked_at for health in answers}) == 1  # every caller is told when it was seen

    clock.now += 0.1
    later = model_health(given)[0]
    assert (runtime.calls, control.calls) == (2, 2)
    assert later.checked_at is not None and answers[0].checked_at is not None
    assert later.checked_at >= answers[0].checked_at


def test_a_comment_that_finds_the_model_down_shows_on_health_without_another_check() -> None:
    model, clock = FakeModel(), Clock()
    given = services(model=ProbedModel(model, WINDOW_S, clock))
    assert model_health(given)[0].status is Readiness.READY

    model.down = True
    create_comment("slow delivery", given)  # stored pending: the model did not answer

    health = model_health(given)[0]
    assert (health.status, health.reason) == (Readiness.DOWN, "the model endpoint is unreachable")
    assert model.health_checks == 1


def test_health_never_tells_the_public_the_raw_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The raw refusal names the account and the function's role: it goes to the log, not to the caller."""

    class Refused(Control):
        def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": REFUSAL}}, "DescribeEndpoint")

    for control, runtime in ((Refused(), Runtime()), (Control(), Runtime(refusal=REFUSAL))):
        health = sagemaker(monkeypatch, runtime, control).health()
        public = health.model_dump_json()

        assert health.status is Readiness.DOWN
        assert health.reason == "the model endpoint is unreachable"
        assert ACCOUNT not in public
        assert "ApiFunctionRole" not in public
        assert ROLE_ARN in getattr(caplog.records[-1], "error", "")  # the operator still finds it in the log


def test_an_explanation_refused_says_so_without_the_raw_error() -> None:
    class Refusing(FakeModel):
        def explain(self, text: str) -> Any:
            raise ModelUnavailableError(f"SageMaker endpoint {ENDPOINT} did not answer: {REFUSAL}")

    given = services(model=Refusing())
    comment = create_comment("slow delivery", given)

    with pytest.raises(ServiceUnavailableError) as refused:
        explain_comment(comment.comment_id, given)
    assert ACCOUNT not in refused.value.message
    assert "ApiFunctionRole" not in refused.value.message


# ---- explanations: computed once per comment and champion ----


def champion(version: str) -> Champion:
    return Champion(version=version, model_data_url=f"s3://bucket/models/{version}/model.tar.gz", sha256="11" * 32)


def test_a_second_explanation_of_a_comment_is_read_back_not_scored_again() -> None:
    registry, model = FakeRegistry.empty(), FakeModel(version="v1")
    registry.models.data.champion = champion("v1")  # type: ignore[attr-defined]
    given = services(model=model, registry=registry)
    comment = create_comment("Worst airline ever", given)

    first = explain_comment(comment.comment_id, given)[1]
    again = [explain_comment(comment.comment_id, given)[1] for _ in range(5)]

    assert model.explained == ["Worst airline ever"]
    assert again == [first] * 5


def test_a_new_champion_explains_the_comment_afresh() -> None:
    registry, model = FakeRegistry.empty(), FakeModel(version="v1")
    registry.models.data.champion = champion("v1")  # type: ignore[attr-defined]
    given = services(model=model, registry=registry)
    comment = create_comment("Worst airline ever", given)
    assert explain_comment(comment.comment_id, given)[1].model_version == "v1"

    registry.models.data.champion = champion("v2")  # type: ignore[attr-defined]
    model.answer = lambda text: prediction(version="v2")

    assert explain_comment(comment.comment_id, given)[1].model_version == "v2"
    assert explain_comment(comment.comment_id, given)[1].model_version == "v2"
    assert len(model.explained) == 2


def test_a_kept_explanation_does_not_leave_the_comment_through_a_listing() -> None:
    registry = FakeRegistry.empty()
    registry.models.data.champion = champion("v1")  # type: ignore[attr-defined]
    given = services(registry=registry)
    comment = create_comment("Worst airline ever", given)
    explain_comment(comment.comment_id, given)

    listed = list_comments(None, False, 10, None, given)[0]

    assert [item.comment_id for item in listed] == [comment.comment_id]
    assert listed[0].explanation is None  # the indexes do not project it
    assert given.comments.get(comment.comment_id).explanation is not None


# ---- retention: an expired comment is gone before DynamoDB deletes it ----


def test_a_new_comment_expires_after_the_retention_and_zero_keeps_it() -> None:
    made = Comment(
        comment_id="c1", text="hi", created_at=datetime(2026, 3, 1, tzinfo=UTC), status=CommentStatus.PENDING
    )

    assert to_item(made, 365)[EXPIRES_AT] == int((made.created_at + timedelta(days=365)).timestamp())
    assert EXPIRES_AT not in to_item(made, 0)


def test_an_expired_comment_is_not_read_listed_queued_or_labelled() -> None:
    comments = FakeCommentStore(retention_days=30)
    given = services(comments=comments)
    old = create_comment("Lovely staff", given)
    kept = create_comment("Slow delivery", given)
    # Made 31 days ago: past its retention, still in the table (TTL deletes within days).
    comments.items[old.comment_id][EXPIRES_AT] = int((datetime.now(UTC) - timedelta(days=1)).timestamp())

    with pytest.raises(NotFoundError):
        given.comments.get(old.comment_id)
    assert [c.comment_id for c in list_comments(None, False, 10, None, given)[0]] == [kept.comment_id]
    assert [c.comment_id for c in list_comments("positive", False, 10, None, given)[0]] == [kept.comment_id]
    assert [c.comment_id for c in list_comments(None, True, 10, None, given)[0]] == [kept.comment_id]
    with pytest.raises(NotFoundError):
        given.comments.mark_feedback(old.comment_id, FeedbackMark(feedback_id="f1", label="negative", created_at=NOW))


# ---- the template: what CloudFormation receives ----


def test_the_translated_template_keeps_comments_for_the_retention_and_projects_what_listings_read() -> None:
    translated = cloudformation.translate(load(ROOT / "template.yaml"), {"ModelImageUri": "image:1"})
    table = translated["Resources"]["CommentsTable"]["Properties"]
    api = translated["Resources"]["ApiFunction"]["Properties"]

    assert table["TimeToLiveSpecification"] == {"AttributeName": EXPIRES_AT, "Enabled": True}
    assert api["Environment"]["Variables"]["COMMENT_RETENTION_DAYS"] == {"Ref": "CommentRetentionDays"}
    assert translated["Parameters"]["CommentRetentionDays"]["Default"] == 365
    for index in table["GlobalSecondaryIndexes"]:
        keys = {key["AttributeName"] for key in index["KeySchema"]}
        assert index["Projection"]["ProjectionType"] == "INCLUDE", index["IndexName"]
        assert set(index["Projection"]["NonKeyAttributes"]) == set(LISTED) - keys, index["IndexName"]
