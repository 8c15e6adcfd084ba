"""The retraining pipeline's decisions, on their own: the promotion gate, reading a candidate's archive,
the latest label per comment, readable step errors and S3's encoded keys. No AWS."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline_function.errors import CandidateArtifactError
from pipeline_function.logic.evaluate import TouchLimits, chance_of_losing, gate, lineage_best, read_metadata
from pipeline_function.logic.record import MAX_ERROR_CHARS, describe_error
from pipeline_function.logic.trigger import object_keys
from pipeline_function.logic.trust import latest_labels
from sentiment_common.records import FeedbackRecord, Label
from sentiment_common.registry import Decision, ModelRecord, ModelStatus

TOLERANCE, FLOOR = 0.01, 0.70
CHAMPION = {"reviews_accuracy": 0.86, "tweets_macro_f1": 0.80, "feedback_holdout_accuracy": 0.75}


# ---- the gate ----


def test_a_candidate_as_good_as_the_champion_is_promoted_with_a_reason_per_metric() -> None:
    candidate = {"reviews_accuracy": 0.87, "tweets_macro_f1": 0.80, "feedback_holdout_accuracy": 0.90}

    decision, reasons = gate(candidate, CHAMPION, TOLERANCE, FLOOR)

    assert decision is Decision.PROMOTED
    assert reasons == [
        "reviews_accuracy 0.8700 against the champion's 0.8600",
        "tweets_macro_f1 0.8000 against the champion's 0.8000",
        "feedback_holdout_accuracy 0.9000 against the champion's 0.7500",
    ]


def test_a_candidate_below_the_floor_is_rejected_even_without_a_champion() -> None:
    decision, reasons = gate({"reviews_accuracy": 0.65, "tweets_macro_f1": 0.75}, None, TOLERANCE, FLOOR)

    assert decision is Decision.REJECTED
    assert "reviews_accuracy 0.6500 is below the floor 0.70" in reasons
    assert "no champion to compare with" in reasons


def test_without_a_champion_a_candidate_above_the_floor_is_promoted() -> None:
    decision, reasons = gate({"reviews_accuracy": 0.80, "tweets_macro_f1": 0.72}, None, TOLERANCE, FLOOR)

    assert decision is Decision.PROMOTED
    assert reasons == ["no champion to compare with"]


def test_slightly_worse_within_the_tolerance_passes() -> None:
    candidate = {**CHAMPION, "tweets_macro_f1": 0.795}

    decision, reasons = gate(candidate, CHAMPION, TOLERANCE, FLOOR)

    assert decision is Decision.PROMOTED
    assert "tweets_macro_f1 0.7950 against the champion's 0.8000" in reasons


@pytest.mark.parametrize("metric", ["reviews_accuracy", "tweets_macro_f1", "feedback_holdout_accuracy"])
def test_worse_than_the_champion_beyond_the_tolerance_on_any_metric_is_rejected(metric: str) -> None:
    candidate = {**CHAMPION, metric: CHAMPION[metric] - 0.02}

    decision, reasons = gate(candidate, CHAMPION, TOLERANCE, FLOOR)

    assert decision is Decision.REJECTED
    (reason,) = [reason for reason in reasons if "below the champion" in reason]
    expected = f"{metric} {CHAMPION[metric] - 0.02:.4f} is 0.0200 below the champion's {CHAMPION[metric]:.4f}"
    assert reason == f"{expected} (tolerance {TOLERANCE})"


def test_a_golden_metric_that_was_not_measured_is_a_rejection() -> None:
    decision, reasons = gate({"reviews_accuracy": 0.9}, CHAMPION, TOLERANCE, FLOOR)

    assert decision is Decision.REJECTED
    assert "tweets_macro_f1 was not measured" in reasons


def test_a_golden_metric_measured_as_null_is_a_rejection() -> None:
    decision, reasons = gate({"reviews_accuracy": 0.9, "tweets_macro_f1": None}, None, TOLERANCE, FLOOR)

    assert decision is Decision.REJECTED
    assert "tweets_macro_f1 was not measured" in reasons


@pytest.mark.parametrize(
    ("candidate_holdout", "champion_holdout"),
    [(None, 0.99), (0.10, None), (None, None)],
    ids=["only-the-champion-has-it", "only-the-candidate-has-it", "neither-has-it"],
)
def test_the_feedback_hold_out_is_compared_only_when_both_have_it(
    candidate_holdout: float | None, champion_holdout: float | None
) -> None:
    candidate = {"reviews_accuracy": 0.87, "tweets_macro_f1": 0.81, "feedback_holdout_accuracy": candidate_holdout}
    champion = {**CHAMPION, "feedback_holdout_accuracy": champion_holdout}

    decision, reasons = gate(candidate, champion, TOLERANCE, FLOOR)

    assert decision is Decision.PROMOTED
    assert not [reason for reason in reasons if "feedback_holdout_accuracy" in reason]


@pytest.mark.parametrize(
    ("lost", "gained", "chance"), [(0, 0, 1.0), (2, 0, 0.25), (3, 1, 5 / 16), (5, 0, 1 / 32), (6, 2, 37 / 256)]
)
def test_the_chance_of_losing_is_mcnemars_exact_one_sided_test(lost: int, gained: int, chance: float) -> None:
    assert chance_of_losing(lost, gained) == pytest.approx(chance)


def test_a_hold_out_drop_that_chance_explains_is_not_a_rejection() -> None:
    """15 hold-out labels: the candidate lost 2 texts the champion had right and gained none. That is
    0.13 below, far beyond the tolerance, and what a coin gives a quarter of the time."""
    paired = {"holdout_rows": 15, "holdout_lost": 2, "holdout_gained": 0}
    candidate = {**CHAMPION, "feedback_holdout_accuracy": 0.60, **paired}
    champion = {**CHAMPION, "feedback_holdout_accuracy": 0.7333}

    decision, reasons = gate(candidate, champion, TOLERANCE, FLOOR)

    assert decision is Decision.PROMOTED
    assert (
        "feedback_holdout_accuracy 0.6000 against the champion's 0.7333: on 15 texts the candidate got 2 wrong "
        "that the champion got right and 0 the other way, which chance gives 25% of the time (a drop is refused "
        "below 5%)"
    ) in reasons


def test_a_hold_out_drop_beyond_chance_is_a_rejection() -> None:
    paired = {"holdout_rows": 20, "holdout_lost": 6, "holdout_gained": 0}
    candidate = {**CHAMPION, "feedback_holdout_accuracy": 0.45, **paired}
    champion = {**CHAMPION, "feedback_holdout_accuracy": 0.75}

    decision, reasons = gate(candidate, champion, TOLERANCE, FLOOR)

    assert decision is Decision.REJECTED
    assert "feedback_holdout_accuracy 0.4500 is 0.3000 below the champion's 0.7500 (tolerance 0.01)" in reasons


def test_a_small_hold_out_drop_is_accepted_within_the_tolerance_whatever_chance_says() -> None:
    """Thousands of hold-out labels make a drop of 0.005 significant; the tolerance still allows it."""
    paired = {"holdout_rows": 4000, "holdout_lost": 40, "holdout_gained": 20}
    candidate = {**CHAMPION, "feedback_holdout_accuracy": 0.745, **paired}

    decision, _ = gate(candidate, CHAMPION, TOLERANCE, FLOOR)

    assert decision is Decision.PROMOTED


# ---- where the new labels touch, and the lineage's best ----

LIMITS = TouchLimits(neighbours=0.05, touched=0.5)


def _touching(flips: int, agreed: int, touched_flips: int = 0, touched_agreed: int = 0) -> dict[str, float | None]:
    """A candidate as good as the champion on every figure, changing this many answers near its new labels."""
    return {
        **CHAMPION,
        "neighbour_flips": flips,
        "neighbours_champion_agreed": agreed,
        "neighbour_flip_share": flips / agreed if agreed else None,
        "touched_flips": touched_flips,
        "touched_agreed": touched_agreed,
        "touched_flip_share": touched_flips / touched_agreed if touched_agreed else None,
    }


NEIGHBOURS = "nearest labelled texts the champion answered as people did are now answered otherwise"
TOUCHED = (
    "texts the new labels are about, which the champion answered as people answered their nearest labelled "
    "texts, are now answered otherwise"
)


@pytest.mark.parametrize(
    ("flips", "touched", "decision", "said"),
    [
        # As good as the champion on the golden figures, but answers 12 of the 40 nearest labelled texts otherwise
        ((12, 40), (0, 0), Decision.HELD, [f"12 of 40 {NEIGHBOURS}, above the limit 5%"]),
        # 500 labels calling texts negative that the champion, like people on the nearest labelled texts,
        # answered positive, and a candidate that learned them
        ((0, 71), (499, 500), Decision.HELD, [f"499 of 500 {TOUCHED}, above the limit 50%"]),
        # Ten honest labels, two of which correct texts against what people said of their neighbours
        (
            (1, 80),
            (2, 10),
            Decision.PROMOTED,
            [f"1 of 80 {NEIGHBOURS}, within the limit 5%", f"2 of 10 {TOUCHED}, within the limit 50%"],
        ),
    ],
    ids=["flips-neighbours", "against-the-neighbourhood", "few-changes"],
)
def test_a_candidate_that_changes_answers_near_its_labels_is_held_for_a_person_and_says_why(
    flips: tuple[int, int], touched: tuple[int, int], decision: Decision, said: list[str]
) -> None:
    candidate = _touching(*flips, *touched)

    decided, reasons = gate(candidate, CHAMPION, TOLERANCE, FLOOR, touch=LIMITS)

    assert decided is decision
    assert set(said) <= set(reasons)


def test_a_candidate_that_is_worse_and_flips_neighbours_is_rejected_not_held() -> None:
    candidate = {**_touching(flips=30, agreed=40), "reviews_accuracy": 0.60}

    decision, _ = gate(candidate, CHAMPION, TOLERANCE, FLOOR, touch=LIMITS)

    assert decision is Decision.REJECTED


def test_each_run_may_lose_the_tolerance_against_the_champion_but_not_against_the_best_champion_so_far() -> None:
    # Given a champion that has already lost 0.009 against the first champion, and a candidate that
    # loses another 0.009 against it: within the tolerance of the champion, 0.018 below the best
    best = {"reviews_accuracy": 0.86, "tweets_macro_f1": 0.80}
    champion = {**CHAMPION, "reviews_accuracy": 0.851}
    candidate = {**CHAMPION, "reviews_accuracy": 0.842}

    decision, reasons = gate(candidate, champion, TOLERANCE, FLOOR, best=best)

    assert decision is Decision.REJECTED
    assert (
        "reviews_accuracy 0.8420 is 0.0180 below 0.8600, the best a champion has had "
        "(tolerance 0.01: repeated runs may not wear the model down)" in reasons
    )


def test_the_best_so_far_is_taken_from_every_model_ever_promoted_and_no_other() -> None:
    def model(version: str, reviews: float, promoted: bool) -> ModelRecord:
        return ModelRecord(
            version=version,
            status=ModelStatus.RETIRED if promoted else ModelStatus.REJECTED,
            metrics={"reviews_accuracy": reviews, "tweets_macro_f1": 0.7},
            dataset={},
            created_at=datetime(2026, 11, 1, tzinfo=UTC),
            model_data_url=f"s3://bucket/models/{version}/model.tar.gz",
            sha256="0" * 64,
            promoted_at=datetime(2026, 11, 2, tzinfo=UTC) if promoted else None,
        )

    best = lineage_best([model("first", 0.85, True), model("rejected", 0.95, False), model("later", 0.83, True)])

    assert best == {"reviews_accuracy": 0.85, "tweets_macro_f1": 0.7}


# ---- the candidate's archive ----


def _archive(tmp_path: Path, files: dict[str, bytes]) -> bytes:
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return path.read_bytes()


METADATA = {
    "version": "20261122-100000-run-000001",
    "metrics": {"reviews_accuracy": 0.9, "tweets_macro_f1": 0.8},
    "champion_metrics": None,
    "dataset": {"feedback_rows": 3},
    "created_at": "2026-11-22T10:00:00+00:00",
}


def test_metadata_is_read_from_a_complete_archive(tmp_path: Path) -> None:
    archive = _archive(tmp_path, {"metadata.json": json.dumps(METADATA).encode(), "model.joblib": b"\x80\x04pickle"})

    assert read_metadata(archive) == METADATA


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ({"metadata.json": json.dumps(METADATA).encode()}, "model.joblib"),
        ({"model.joblib": b"weights"}, "metadata.json"),
        ({"metadata.json": b"{not json", "model.joblib": b"weights"}, "not a complete model artifact"),
    ],
    ids=["no-model", "no-metadata", "metadata-not-json"],
)
def test_an_incomplete_archive_is_a_candidate_artifact_error(tmp_path: Path, files: dict[str, bytes], why: str) -> None:
    archive = _archive(tmp_path, files)

    with pytest.raises(CandidateArtifactError, match=why):
        read_metadata(archive)


def test_bytes_that_are_not_a_tarball_are_a_candidate_artifact_error() -> None:
    with pytest.raises(CandidateArtifactError, match="not a complete model artifact"):
        read_metadata(b"this is not a gzip file at all")


def test_metadata_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        directory = tarfile.TarInfo("metadata.json")
        directory.type = tarfile.DIRTYPE
        tar.addfile(directory)
        model = tarfile.TarInfo("model.joblib")
        model.size = 1
        tar.addfile(model, io.BytesIO(b"x"))

    with pytest.raises(CandidateArtifactError, match=r"metadata\.json"):
        read_metadata(path.read_bytes())


# ---- the latest label per comment ----

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _feedback(
    feedback_id: str, label: Label, minutes: int, *, comment_id: str | None = None, text: str = "x"
) -> FeedbackRecord:
    return FeedbackRecord(
        feedback_id=feedback_id,
        comment_id=comment_id,
        text=text,
        label=label,
        predicted_label=None,
        model_version=None,
        created_at=T0 + timedelta(minutes=minutes),
    )


def test_a_later_label_for_the_same_comment_wins_whatever_the_order_given() -> None:
    later = _feedback("a-later", "positive", 5, comment_id="c1", text="Fine")
    earlier = _feedback("z-earlier", "negative", 1, comment_id="c1", text="Fine")
    other = _feedback("m-other", "neutral", 3, comment_id="c2", text="Fine")

    kept, superseded = latest_labels([later, other, earlier])

    assert kept == [other, later]
    assert superseded == 1


def test_without_a_comment_id_the_same_folded_text_is_the_same_item() -> None:
    first = _feedback("f1", "negative", 1, text="Not  GREAT, honestly")
    second = _feedback("f2", "neutral", 2, text="  not great,\thonestly ")
    different = _feedback("f3", "positive", 3, text="Great, honestly")

    kept, superseded = latest_labels([first, second, different])

    assert [record.feedback_id for record in kept] == ["f2", "f3"]
    assert superseded == 1


def test_a_comment_and_a_loose_text_with_the_same_words_are_different_items() -> None:
    on_comment = _feedback("f1", "negative", 1, comment_id="c1", text="meh")
    loose = _feedback("f2", "positive", 2, text="meh")

    kept, superseded = latest_labels([on_comment, loose])

    assert kept == [on_comment, loose]
    assert superseded == 0


def test_three_labels_for_one_comment_keep_only_the_last() -> None:
    records = [
        _feedback(f"f{i}", label, i, comment_id="c1") for i, label in enumerate(["negative", "neutral", "positive"])
    ]

    kept, superseded = latest_labels(records)

    assert [record.label for record in kept] == ["positive"]
    assert superseded == 2


# ---- step errors, made readable ----


def test_a_lambda_error_shows_its_error_message() -> None:
    cause = {
        "errorMessage": "s3://bucket/data/base/ holds no CSV file; upload the training data",
        "errorType": "NoBaseDataError",
        "stackTrace": ['  File "/var/task/pipeline_function/prepare.py", line 25'],
    }

    text = describe_error({"Error": "NoBaseDataError", "Cause": json.dumps(cause)})

    assert text == "NoBaseDataError: s3://bucket/data/base/ holds no CSV file; upload the training data"


def test_a_training_job_failure_shows_its_failure_reason() -> None:
    cause = {"TrainingJobName": "sentiment-v2", "TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: OOM"}

    text = describe_error({"Error": "States.TaskFailed", "Cause": json.dumps(cause)})

    assert text == "States.TaskFailed: AlgorithmError: OOM"


def test_a_training_job_stopped_without_a_reason_says_how_it_ended() -> None:
    cause = {"TrainingJobName": "sentiment-v2", "TrainingJobStatus": "Stopped", "SecondaryStatus": "MaxRuntimeExceeded"}

    text = describe_error({"Error": "States.TaskFailed", "Cause": json.dumps(cause)})

    assert text == "States.TaskFailed: the training job sentiment-v2 ended Stopped (MaxRuntimeExceeded)"


def test_a_refused_training_job_shows_what_sagemaker_said_with_its_code() -> None:
    cause = (
        "Rate exceeded (Service: AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException; "
        "Request ID: 5d9a21dc; Proxy: null)"
    )

    text = describe_error({"Error": "SageMaker.AmazonSageMakerException", "Cause": cause})

    assert text == f"SageMaker.AmazonSageMakerException: {cause}"


def test_a_plain_text_cause_is_shown_as_it_is() -> None:
    assert describe_error({"Error": "States.Timeout", "Cause": "the task timed out"}) == (
        "States.Timeout: the task timed out"
    )


def test_no_error_at_all_is_an_unknown_error() -> None:
    assert describe_error(None) == "unknown error"
    assert describe_error({}) == "unknown error"


def test_a_huge_cause_is_cut_to_the_limit() -> None:
    text = describe_error({"Error": "Boom", "Cause": "x" * 10_000})

    assert len(text) == MAX_ERROR_CHARS
    assert text.startswith("Boom: xxx")


# ---- S3's keys ----


def test_object_keys_are_decoded_as_s3_encodes_them() -> None:
    event = {
        "Records": [
            {"s3": {"bucket": {"name": "data"}, "object": {"key": "feedback/dt%3D2026-11-22/a+b%2Bc.json"}}},
            {"s3": {"bucket": {"name": "data"}, "object": {"key": "feedback/plain.json"}}},
        ]
    }

    assert object_keys(event) == [("data", "feedback/dt=2026-11-22/a b+c.json"), ("data", "feedback/plain.json")]


def test_an_event_without_records_has_no_keys() -> None:
    assert object_keys({}) == []
    assert object_keys({"Records": None}) == []
