"""The feedback trigger on moto, as the template configures it: the names and threshold it is given, the
policy on public labels it counts by, and a run started on Step Functions and recorded in DynamoDB. What
it counts and when it starts or holds back a run is tested on the fakes (tests/unit/test_pipeline_trigger.py)."""

from __future__ import annotations

from datetime import timedelta

from pipeline_function.settings import TriggerSettings
from sentiment_common.records import PublicLabels
from sentiment_common.registry import RunStatus, Trigger
from sentiment_common.runs import RunGuard
from tests.fakes.pipeline import THRESHOLD
from tests.integration.pipeline.conftest import MotoPipeline


def _feedback_keys(pipeline: MotoPipeline, count: int) -> list[str]:
    return [pipeline.feedback("negative", text=f"comment number {number}")[0] for number in range(count)]


def test_the_functions_are_told_the_bucket_table_and_threshold_the_template_makes(pipeline: MotoPipeline) -> None:
    environment = pipeline.template.function_environment("FeedbackTriggerFunction", "")

    assert environment["DATA_BUCKET"] == pipeline.bucket
    assert environment["REGISTRY_TABLE"] == pipeline.template.physical_name("RegistryTable")
    assert environment["STATE_MACHINE_ARN"] == pipeline.state_machine_arn
    assert int(environment["RETRAIN_THRESHOLD"]) == THRESHOLD
    settings = TriggerSettings.model_validate(
        {name: environment[name.upper()] for name in TriggerSettings.model_fields if name.upper() in environment}
    )
    assert settings.guard == RunGuard(min_interval=timedelta(minutes=60), max_per_day=12)


def test_with_the_templates_default_public_labels_count_nothing_and_reviewers_labels_do(pipeline: MotoPipeline) -> None:
    environment = pipeline.template.function_environment("FeedbackTriggerFunction", "")
    policy = TriggerSettings.model_validate(
        {name: environment[name.upper()] for name in TriggerSettings.model_fields if name.upper() in environment}
    ).public_labels
    assert policy is PublicLabels.SUGGEST

    for key in _feedback_keys(pipeline, THRESHOLD * 2):
        report = pipeline.notify(key, public_labels=policy)
        assert (report.counted, report.not_training) == (0, 1)
    assert pipeline.state_store.state().pending_feedback == 0
    assert pipeline.executions() == {}

    reviewed = [pipeline.feedback("negative", text=f"review {n}", reviewer="ana")[0] for n in range(THRESHOLD)]
    assert pipeline.notify(*reviewed, public_labels=policy).started_run == "run-000001"


def test_the_threshold_starts_one_execution_named_for_its_run_and_records_the_run(pipeline: MotoPipeline) -> None:
    # Given one object short of the threshold, then the last one delivered twice (S3 may)
    keys = _feedback_keys(pipeline, THRESHOLD)
    pipeline.notify(*keys[:-1])

    started = [pipeline.notify(keys[-1]).started_run for _ in range(2)]

    # Then Step Functions runs one execution, named for the run, given what started it
    assert started == ["run-000001", None]
    assert pipeline.executions() == {"run-000001": "RUNNING"}
    assert pipeline.execution_input("run-000001")["feedback_count"] == THRESHOLD
    # and the registry holds the run, pointing at its execution
    run = pipeline.runs.get_run("run-000001")
    assert (run.status, run.trigger) == (RunStatus.RUNNING, Trigger.FEEDBACK)
    assert run.execution_arn == pipeline.workflow.execution_arn("run-000001")
