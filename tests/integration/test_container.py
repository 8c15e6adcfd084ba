"""The image cannot be built here (no Docker engine), so this checks what the Dockerfile would
run: every file it copies exists, it runs as root from a slim base (as SageMaker runs containers;
ECS runs it as an unprivileged user), and its exec-form entry point starts both the server and a
training job laid out as SageMaker lays out a bring-your-own container's."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sentiment_model.training import LIBRARIES
from sentiment_template.reader import Template
from tests.conftest import ROOT
from tests.integration.conftest import running_server, wait_for_ping

# Starts model servers or training jobs: make check leaves it out.
pytestmark = pytest.mark.processes

CONTEXT = ROOT / "model_training"


def instructions() -> list[tuple[str, str]]:
    lines = (CONTEXT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    parsed = []
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            parsed.append((keyword.upper(), rest.strip()))
    return parsed


def only(keyword: str) -> str:
    values = [rest for key, rest in instructions() if key == keyword]
    assert len(values) == 1, f"expected one {keyword}, found {values}"
    return values[0]


def entrypoint_command(*args: str) -> list[str]:
    """The image's ENTRYPOINT, with the image's python being this interpreter."""
    command = json.loads(only("ENTRYPOINT"))
    assert command[0] == "python"
    return [sys.executable, *command[1:], *args]


def image_env() -> dict[str, str]:
    env = {}
    for key, rest in instructions():
        if key == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def test_base_image_is_slim_and_runs_as_root_for_sagemaker_and_as_a_user_on_ecs() -> None:
    assert "slim" in only("FROM")
    # SageMaker's bring-your-own-container guides expect the image's default user, root.
    assert [rest for key, rest in instructions() if key == "USER"] == []
    ecs = Template.read(ROOT / "template.yaml", overrides={"InferenceBackend": "ecs", "ModelImageUri": "image"})
    tasks = ecs.of_type("AWS::ECS::TaskDefinition")
    (task,) = tasks.values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    assert container["User"] not in {"root", "0"}
    assert any(f"--uid {container['User']} " in rest for key, rest in instructions() if key == "RUN")


def test_entrypoint_and_command_are_exec_form() -> None:
    assert isinstance(json.loads(only("ENTRYPOINT")), list)
    assert json.loads(only("CMD")) == ["serve"]
    assert only("EXPOSE") == "8080"


def test_every_copied_path_exists_and_the_image_path_holds_the_package() -> None:
    for key, rest in instructions():
        if key == "COPY":
            *sources, _ = rest.split()
            for source in sources:
                assert (CONTEXT / source).exists(), f"COPY {source}: not in {CONTEXT.name}/"
    assert image_env()["PYTHONPATH"] == only("WORKDIR")


def test_image_requirements_pin_every_library_the_model_records() -> None:
    pinned = {
        line.split("==")[0].lower() for line in (CONTEXT / "requirements.txt").read_text().splitlines() if "==" in line
    }
    assert {name.lower() for name in LIBRARIES} <= pinned


def test_serve_starts_and_answers_ping(model_dir: Path) -> None:
    with running_server({"MODEL_URI": str(model_dir)}, command=entrypoint_command("serve")) as (url, _):
        assert wait_for_ping(url).status_code == 200


@pytest.mark.slow  # a training job in a fresh container: the whole golden split encoded with no cache
def test_train_runs_as_a_sagemaker_training_job(tmp_path: Path) -> None:
    """SageMaker runs ``<image> train`` with no arguments and no ``SM_*`` variables: the channels are
    under /opt/ml/input/data, the hyper-parameters in /opt/ml/input/config (``ML_ROOT`` moves /opt/ml
    here, as the local stack's training jobs do)."""
    root = tmp_path / "opt-ml"
    shutil.copytree(CONTEXT / "data", root / "input" / "data" / "train")
    (root / "input" / "config").mkdir(parents=True)
    (root / "output" / "data").mkdir(parents=True)
    hyperparameters = {"sample": "300", "C": "1.5", "review_weight": "1.0"}  # always strings, as SageMaker writes them
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    model_dir, output_dir = root / "model", root / "output" / "data"
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("SM_")},
        "PYTHONPATH": str(CONTEXT),
        "ML_ROOT": str(root),
    }
    result = subprocess.run(
        entrypoint_command("train"), env=env, cwd=CONTEXT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in model_dir.iterdir()) == ["encoder", "metadata.json", "metrics.json", "model.joblib"]
    assert sorted(p.name for p in (model_dir / "encoder").iterdir()) == ["encoder.json", "model.onnx", "tokenizer.json"]
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert metadata["parameters"]["C"] == 1.5 and metadata["parameters"]["review_weight"] == 1.0
    assert metadata["kind"] == "encoder"
    # The embedding cache went where SageMaker keeps a job's checkpoints.
    assert [p.name for p in (root / "checkpoints").iterdir()] == [
        f"embeddings-{metadata['encoder']['sha256'][:16]}.npz"
    ]
    assert json.loads((output_dir / "metrics.json").read_text())["golden"]["reviews"]["rows"] > 0


def test_train_fails_loudly_on_a_missing_channel(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(CONTEXT), "SM_CHANNEL_TRAIN": str(tmp_path / "none"),
           "SM_MODEL_DIR": str(tmp_path / "model")}  # fmt: skip
    result = subprocess.run(
        entrypoint_command("train"), env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 1
    assert "no CSV files" in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = subprocess.run(entrypoint_command("predict"), env={**os.environ, "PYTHONPATH": str(CONTEXT)},
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2
    assert "usage" in result.stderr
