"""train.py as a bring-your-own-container SageMaker entry point: channels and hyper-parameters
found under /opt/ml, and the candidate compared with the champion on the same data."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from sentiment_model.training import load_champion
from tests.conftest import DATA, ROOT
from train import main, parse_args

SM_VARIABLES = (
    "SM_CHANNEL_TRAIN",
    "SM_CHANNEL_FEEDBACK",
    "SM_CHANNEL_CHAMPION",
    "SM_MODEL_DIR",
    "SM_OUTPUT_DATA_DIR",
    "SM_OUTPUT_DIR",
    "SM_INPUT_CONFIG_DIR",
)
SAMPLE = "300"


@pytest.fixture
def opt_ml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where SageMaker's /opt/ml would be; nothing is there until a test puts it there."""
    for name in SM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "opt" / "ml"
    monkeypatch.setenv("ML_ROOT", str(root))
    return root


def container(root: Path, channels: tuple[str, ...] = (), hyperparameters: dict[str, str] | None = None) -> None:
    """The layout SageMaker gives a training container: mounted channels, config, output."""
    for name in channels:
        (root / "input" / "data" / name).mkdir(parents=True)
    (root / "input" / "config").mkdir(parents=True, exist_ok=True)
    (root / "output").mkdir(parents=True, exist_ok=True)
    if hyperparameters is not None:
        (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))


def test_outside_sagemaker_the_defaults_are_the_projects_own_paths(opt_ml: Path) -> None:
    args = parse_args([])
    assert args.train == ROOT / "model_training" / "data"
    assert (args.feedback, args.champion, args.champion_sha256, args.output_data_dir) == (None, None, None, None)
    assert args.model_dir == ROOT / "build" / "model"


def test_a_byoc_job_finds_channels_model_dir_and_hyperparameters_under_opt_ml(opt_ml: Path) -> None:
    hyperparameters = {
        "C": "1.5",
        "feedback_weight": "4",
        "champion-sha256": "ab" * 32,
        "sample": SAMPLE,
        "sagemaker_job_name": "retrain-1",  # SageMaker's own: ignored
    }
    container(opt_ml, channels=("train", "feedback", "champion"), hyperparameters=hyperparameters)
    args = parse_args([])
    data = opt_ml / "input" / "data"
    assert (args.train, args.feedback, args.champion) == (data / "train", data / "feedback", data / "champion")
    assert args.model_dir == opt_ml / "model"
    assert args.output_data_dir == opt_ml / "output" / "data"
    assert (args.C, args.feedback_weight, args.sample, args.champion_sha256) == (1.5, 4.0, 300, "ab" * 32)


def test_explicit_flags_win_over_hyperparameters(opt_ml: Path) -> None:
    container(opt_ml, hyperparameters={"C": "1.5", "review_weight": "1.0", "seed": "-1"})
    args = parse_args(["--C", "0.5", "--review-weight", "3"])
    assert (args.C, args.review_weight, args.seed) == (0.5, 3.0, -1)


def test_sm_variables_win_over_the_layout(opt_ml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    container(opt_ml, channels=("train", "feedback"), hyperparameters={"C": "1.5"})
    config = tmp_path / "config"
    config.mkdir()
    (config / "hyperparameters.json").write_text(json.dumps({"C": "0.25"}))
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path / "train"))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    monkeypatch.setenv("SM_INPUT_CONFIG_DIR", str(config))
    args = parse_args([])
    assert (args.train, args.model_dir, args.C) == (tmp_path / "train", tmp_path / "model", 0.25)
    assert args.feedback == opt_ml / "input" / "data" / "feedback"


def test_an_unknown_hyperparameter_fails_with_the_reason_in_the_failure_file(opt_ml: Path) -> None:
    container(opt_ml, hyperparameters={"learning_rate": "0.1"})
    assert main([]) == 2
    assert "unrecognized arguments: --learning_rate=0.1" in (opt_ml / "output" / "failure").read_text()


def test_an_unknown_kind_fails_with_the_reason_in_the_failure_file(opt_ml: Path) -> None:
    container(opt_ml, hyperparameters={"kind": "llm"})
    assert main([]) == 2
    assert "argument --kind: invalid choice: 'llm'" in (opt_ml / "output" / "failure").read_text()


def test_in_a_container_the_encoder_channel_and_the_checkpoint_folder_are_used(opt_ml: Path) -> None:
    container(opt_ml, channels=("train", "encoder"), hyperparameters={"kind": "tfidf"})
    args = parse_args([])
    assert (args.kind, args.encoder) == ("tfidf", opt_ml / "input" / "data" / "encoder")
    assert args.embedding_cache == opt_ml / "checkpoints"
    assert parse_args(["--embedding-cache", ""]).embedding_cache is None


def test_a_champion_channel_without_an_archive_means_no_champion(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "model.joblib").write_bytes(b"not an archive")
    for folder in (None, tmp_path / "absent", tmp_path / "empty", tmp_path / "other"):
        assert load_champion(folder, "ab" * 32) is None


@dataclass(frozen=True)
class ChampionRun:
    model_dir: Path
    archive: Path
    sha256: str


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> ChampionRun:
    """A small model trained with a champion channel that holds no archive, packed as the champion."""
    work = tmp_path_factory.mktemp("champion")
    (work / "channel").mkdir()
    (work / "channel" / "README.txt").write_text("no model here yet")
    model_dir, archive = work / "model", work / "out" / "model.tar.gz"
    argv = ["--train", str(DATA), "--sample", SAMPLE, "--version", "champion-1", "--champion", str(work / "channel")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ML_ROOT", str(work / "no-sagemaker-here"))
        assert main([*argv, "--model-dir", str(model_dir), "--archive", str(archive)]) == 0
    return ChampionRun(model_dir, archive, hashlib.sha256(archive.read_bytes()).hexdigest())


def read(path: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


def test_without_a_champion_the_comparison_is_null(champion: ChampionRun) -> None:
    assert read(champion.model_dir / "metrics.json")["champion"] is None
    assert read(champion.model_dir / "metadata.json")["champion_metrics"] is None


def write_feedback(folder: Path) -> None:
    for i in range(40):
        label = ("positive", "negative", "neutral")[i % 3]
        record = {"comment_id": f"c{i}", "text": f"feedback number {i} is {label}", "label": label, "created_at": "t"}
        (folder / f"{i}.json").write_text(json.dumps(record))


@pytest.mark.slow  # a second training, and the champion scored on the whole golden split
def test_the_champion_is_evaluated_on_the_same_rows_as_the_candidate(
    opt_ml: Path, champion: ChampionRun, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hyperparameters = {"sample": SAMPLE, "seed": "1", "version": "candidate-2", "champion_sha256": champion.sha256}
    container(opt_ml, channels=("feedback", "champion"), hyperparameters=hyperparameters)
    shutil.copy(champion.archive, opt_ml / "input" / "data" / "champion" / "model.tar.gz")
    write_feedback(opt_ml / "input" / "data" / "feedback")
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(DATA))

    assert main([]) == 0

    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["version"], summary["champion_version"]) == ("candidate-2", "champion-1")
    metrics = json.loads((opt_ml / "model" / "metrics.json").read_text())
    assert json.loads((opt_ml / "output" / "data" / "metrics.json").read_text()) == metrics
    compared = metrics["champion"]
    assert compared["version"] == "champion-1"
    for source in ("reviews", "tweets", "all"):
        assert compared["golden"][source]["rows"] == metrics["golden"][source]["rows"] > 0
    assert compared["feedback_holdout"]["rows"] == metrics["feedback_holdout"]["rows"] > 0
    # The same golden split as when the champion was trained: the same numbers it recorded then.
    assert compared["golden"] == read(champion.model_dir / "metrics.json")["golden"]

    metadata = json.loads((opt_ml / "model" / "metadata.json").read_text())
    touch = {key for key in metadata["metrics"] if key.startswith(("touched_", "neighbour", "holdout_"))}
    assert set(metadata["champion_metrics"]) == {*metadata["metrics"], "version"} - touch
    # Where the new labels touch: all 40 feedback rows are new to the champion (none is dated after it)
    assert metadata["metrics"]["touched_texts"] == 40
    assert metadata["neighbours"]["neighbours"] == metadata["metrics"]["neighbours"] > 0
    assert metadata["neighbours"]["k"] == 10
    assert metadata["champion_metrics"]["version"] == "champion-1"
    assert metadata["champion_metrics"]["golden_accuracy"] == compared["golden"]["all"]["accuracy"]
    assert metadata["champion_metrics"]["feedback_holdout_accuracy"] == compared["feedback_holdout"]["accuracy"]
    # The hold-out text by text, for the gate's paired test: what the candidate gained and lost is the
    # difference of the two accuracies, in texts.
    ours, rows = metadata["metrics"], metrics["feedback_holdout"]["rows"]
    assert ours["holdout_rows"] == rows
    difference = ours["feedback_holdout_accuracy"] - metadata["champion_metrics"]["feedback_holdout_accuracy"]
    assert ours["holdout_gained"] - ours["holdout_lost"] == round(difference * rows)


@pytest.mark.parametrize(
    ("sha256", "reason"),
    [("0" * 64, "SHA-256"), (None, "--champion-sha256")],
    ids=["another-hash", "no-hash"],
)
def test_a_champion_that_cannot_be_verified_fails_training_before_it_starts(
    opt_ml: Path,
    champion: ChampionRun,
    monkeypatch: pytest.MonkeyPatch,
    sha256: str | None,
    reason: str,
) -> None:
    container(opt_ml, channels=("champion",), hyperparameters={"sample": SAMPLE})
    shutil.copy(champion.archive, opt_ml / "input" / "data" / "champion" / "model.tar.gz")
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(DATA))
    output = opt_ml.parent / "elsewhere"  # SM_OUTPUT_DIR wins over /opt/ml/output
    monkeypatch.setenv("SM_OUTPUT_DIR", str(output))
    argv = ["--champion_sha256", sha256] if sha256 else []

    assert main(argv) == 1

    failure = (output / "failure").read_text()
    assert not (opt_ml / "output" / "failure").exists()
    assert failure.startswith("ArtifactError") and reason in failure.splitlines()[0]
    if sha256:
        assert f"expected {sha256}" in failure and champion.sha256 in failure
    assert not (opt_ml / "model").exists()
