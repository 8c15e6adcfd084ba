"""SageMaker training entry point; runs the same way on a laptop.

Every default comes from the SageMaker environment when there is one, else from local paths:

    --train      SM_CHANNEL_TRAIN, else /opt/ml/input/data/train if mounted, else model_training/data
    --feedback   SM_CHANNEL_FEEDBACK, else /opt/ml/input/data/feedback if mounted, else none
    --champion   SM_CHANNEL_CHAMPION, else /opt/ml/input/data/champion if mounted, else none
    --model-dir  SM_MODEL_DIR, else /opt/ml/model inside a SageMaker container
                 (/opt/ml/input exists), else build/model
    --output-data-dir  SM_OUTPUT_DATA_DIR, else /opt/ml/output/data inside a container, else none

A bring-your-own-container training job sets none of the ``SM_*`` variables and passes no
arguments: it mounts the channels and writes the hyper-parameters, all as strings, to
``/opt/ml/input/config/hyperparameters.json`` (``$SM_INPUT_CONFIG_DIR/hyperparameters.json`` when
that is set). Each ``"name": "value"`` there is read as ``--name=value`` placed before the
command line's own arguments, so an explicit flag wins. Names starting with ``sagemaker_`` or
``_`` are SageMaker's own and are ignored. ``ML_ROOT`` (default ``/opt/ml``; not a SageMaker
variable) says where ``/opt/ml`` is: the local stack's training jobs and the tests lay it out elsewhere.

The champion channel may hold the served model's ``model.tar.gz``; ``--champion-sha256`` is its
expected SHA-256, checked before it is unpickled. The champion is then evaluated on the same
golden split and feedback hold-out as the candidate: ``metrics.json`` gets
``"champion": {"version", "golden", "feedback_holdout"}`` and ``metadata.json``
``"champion_metrics"`` (both null without a champion).

Writes ``model.joblib``, ``metadata.json`` and ``metrics.json`` to the model folder (SageMaker
packs it as ``model.tar.gz``), ``metrics.json`` to the output-data folder, and with
``--archive`` also packs ``model.tar.gz`` itself. On failure the reason goes to
``$SM_OUTPUT_DIR/failure`` (else ``/opt/ml/output/failure`` if that folder exists), which
SageMaker shows as the job's FailureReason; the exit code is 1 (2 for a bad flag or hyper-parameter).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # SageMaker runs this file as a script from its source folder

from sentiment_model.artifact import KINDS, pack, write_model_dir  # noqa: E402
from sentiment_model.encoder import BUNDLED  # noqa: E402
from sentiment_model.model import ModelParams  # noqa: E402
from sentiment_model.sources import DATA_SETS, DEFAULT_DATA_SET  # noqa: E402
from sentiment_model.training import load_champion, train  # noqa: E402

DEFAULT_PARAMS = ModelParams()
# The bundled encoder each data set reads texts with: the default one was fine-tuned on every bundled row.
BUNDLED_ENCODERS = {DEFAULT_DATA_SET: BUNDLED, "commercial": BUNDLED.parent / "minilm-sentiment-commercial"}
HYPERPARAMETERS_FILE = "hyperparameters.json"
SAGEMAKER_OWN_PREFIXES = ("sagemaker_", "_")

log = logging.getLogger("train")


class UsageError(Exception):
    """A flag or hyper-parameter the entry point does not accept."""


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # Raised, not exited, so that the reason reaches SageMaker's failure file.
        raise UsageError(f"{self.format_usage()}{self.prog}: error: {message}")


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


def sagemaker_root(env: Mapping[str, str]) -> Path:
    return Path(env.get("ML_ROOT") or "/opt/ml")


def in_sagemaker_container(env: Mapping[str, str]) -> bool:
    return (sagemaker_root(env) / "input").is_dir()


def channel(env: Mapping[str, str], name: str) -> Path | None:
    """A channel's folder: SageMaker's script mode names it in ``SM_CHANNEL_<NAME>``; a
    bring-your-own container only finds it mounted under ``/opt/ml/input/data``."""
    if named := env.get(f"SM_CHANNEL_{name.upper()}"):
        return Path(named)
    mounted = sagemaker_root(env) / "input" / "data" / name
    return mounted if mounted.is_dir() else None


def default_model_dir(env: Mapping[str, str]) -> Path:
    if named := env.get("SM_MODEL_DIR"):
        return Path(named)
    return sagemaker_root(env) / "model" if in_sagemaker_container(env) else HERE.parent / "build" / "model"


def default_output_data_dir(env: Mapping[str, str]) -> Path | None:
    if named := env.get("SM_OUTPUT_DATA_DIR"):
        return Path(named)
    return sagemaker_root(env) / "output" / "data" if in_sagemaker_container(env) else None


def default_embedding_cache(env: Mapping[str, str]) -> Path:
    """SageMaker keeps ``/opt/ml/checkpoints`` in S3 between jobs when the job has a CheckpointConfig;
    on a laptop the cache lives in ``build/``."""
    if in_sagemaker_container(env):
        return sagemaker_root(env) / "checkpoints"
    return HERE.parent / "build" / "embeddings"


def failure_file(env: Mapping[str, str]) -> Path | None:
    if named := env.get("SM_OUTPUT_DIR"):
        return Path(named) / "failure"
    default = sagemaker_root(env) / "output" / "failure"
    return default if default.parent.is_dir() else None


def hyperparameter_args(env: Mapping[str, str]) -> list[str]:
    """``hyperparameters.json`` as ``--name=value`` flags ("=" keeps a value like "-1" a value)."""
    config_dir = _path_or_none(env.get("SM_INPUT_CONFIG_DIR")) or sagemaker_root(env) / "input" / "config"
    path = config_dir / HYPERPARAMETERS_FILE
    if not path.is_file():
        return []
    values: Any = json.loads(path.read_text())
    if not isinstance(values, dict):
        raise UsageError(f"{path} must hold a JSON object of name: value, not {type(values).__name__}")
    return [f"--{name}={value}" for name, value in values.items() if not name.startswith(SAGEMAKER_OWN_PREFIXES)]


def parse_args(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> argparse.Namespace:
    env = os.environ if env is None else env
    parser = _ArgumentParser(description="Train the sentiment model.")
    parser.add_argument(
        "--train",
        type=Path,
        default=channel(env, "train") or HERE / "data",
        help="folder with base/*.csv and golden/*.csv",
    )
    parser.add_argument(
        "--feedback", type=_path_or_none, default=channel(env, "feedback"), help="folder of feedback JSON objects"
    )
    parser.add_argument(
        "--champion",
        type=_path_or_none,
        default=channel(env, "champion"),
        help="folder that may hold the champion model.tar.gz",
    )
    parser.add_argument("--champion-sha256", "--champion_sha256", help="SHA-256 of the champion's model.tar.gz")
    parser.add_argument(
        "--kind", choices=KINDS, default=DEFAULT_PARAMS.kind, help="encoder (default) or tfidf (faster, less accurate)"
    )
    parser.add_argument(
        "--data-set",
        "--data_set",
        choices=DATA_SETS,
        default=DEFAULT_DATA_SET,
        help="all (default) or commercial: without the rows whose licence forbids commercial use",
    )
    parser.add_argument(
        "--encoder",
        type=Path,
        default=channel(env, "encoder"),
        help="folder of the sentence encoder (model.onnx, tokenizer.json, encoder.json); "
        "default: the bundled one for the data set",
    )
    parser.add_argument(
        "--embedding-cache",
        "--embedding_cache",
        type=_path_or_none,
        default=default_embedding_cache(env),
        help="folder of cached embeddings, by text hash ('' for none)",
    )
    parser.add_argument("--model-dir", "--model_dir", type=Path, default=default_model_dir(env))
    parser.add_argument(
        "--output-data-dir", "--output_data_dir", type=_path_or_none, default=default_output_data_dir(env)
    )
    parser.add_argument("--archive", type=Path, help="also pack model.tar.gz here")
    parser.add_argument("--version", help="model version (default: UTC time + data/parameter fingerprint)")
    parser.add_argument("--C", "--c", dest="C", type=float, default=DEFAULT_PARAMS.C, help="inverse regularisation")
    parser.add_argument("--review-C", "--review_c", dest="review_C", type=float, default=DEFAULT_PARAMS.review_C)
    parser.add_argument("--min-df", "--min_df", type=int, default=DEFAULT_PARAMS.min_df)
    parser.add_argument("--max-iter", "--max_iter", type=int, default=DEFAULT_PARAMS.max_iter)
    parser.add_argument("--review-weight", "--review_weight", type=float, default=DEFAULT_PARAMS.review_weight)
    parser.add_argument("--feedback-weight", "--feedback_weight", type=float, default=DEFAULT_PARAMS.feedback_weight)
    parser.add_argument("--embedding-scale", "--embedding_scale", type=float, default=DEFAULT_PARAMS.embedding_scale)
    parser.add_argument(
        "--neutral-gate-weight", "--neutral_gate_weight", type=float, default=DEFAULT_PARAMS.neutral_gate_weight
    )
    parser.add_argument(
        "--feedback-expert-share",
        "--feedback_expert_share",
        type=float,
        default=DEFAULT_PARAMS.feedback_expert_share,
        help="how far the feedback expert may take over where it knows the text's kind (0: none)",
    )
    parser.add_argument(
        "--feedback-expert-C",
        "--feedback_expert_c",
        dest="feedback_expert_C",
        type=float,
        default=DEFAULT_PARAMS.feedback_expert_C,
    )
    parser.add_argument(
        "--objectivity-threshold",
        "--objectivity_threshold",
        type=float,
        default=DEFAULT_PARAMS.objectivity_threshold,
        help="how sure the objectivity detector must be that a text states a fact before its answer moves to neutral",
    )
    parser.add_argument(
        "--objectivity-weight",
        "--objectivity_weight",
        type=float,
        default=DEFAULT_PARAMS.objectivity_weight,
        help="how far a statement of fact's answer moves to neutral, at most (0: not at all)",
    )
    parser.add_argument(
        "--objectivity-power",
        "--objectivity_power",
        type=float,
        default=DEFAULT_PARAMS.objectivity_power,
        help="how much less a statement of fact moves the more the heads lean to a polarity",
    )
    parser.add_argument("--sample", type=int, help="train on at most this many base rows per source")
    parser.add_argument("--seed", type=int, default=0)
    given = sys.argv[1:] if argv is None else argv
    return parser.parse_args([*hyperparameter_args(env), *given])


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train, write the model folder (and archive); returns the one-line summary."""
    params = ModelParams(
        kind=args.kind,
        C=args.C,
        review_C=args.review_C,
        min_df=args.min_df,
        max_iter=args.max_iter,
        review_weight=args.review_weight,
        feedback_weight=args.feedback_weight,
        embedding_scale=args.embedding_scale,
        neutral_gate_weight=args.neutral_gate_weight,
        feedback_expert_share=args.feedback_expert_share,
        feedback_expert_C=args.feedback_expert_C,
        objectivity_threshold=args.objectivity_threshold,
        objectivity_weight=args.objectivity_weight,
        objectivity_power=args.objectivity_power,
    )
    # Before training: a champion that fails its hash check should not cost a training run.
    champion = load_champion(args.champion, args.champion_sha256)
    result = train(
        args.train,
        args.feedback,
        params,
        version=args.version,
        sample=args.sample,
        seed=args.seed,
        champion=champion,
        encoder_dir=args.encoder or BUNDLED_ENCODERS[args.data_set],
        cache_dir=args.embedding_cache,
        data_set=args.data_set,
    )
    metadata = write_model_dir(args.model_dir, result.model, result.metadata, result.metrics, result.encoder_dir)
    if args.output_data_dir:
        args.output_data_dir.mkdir(parents=True, exist_ok=True)
        (args.output_data_dir / "metrics.json").write_text(json.dumps(result.metrics, indent=2) + "\n")
    summary = {
        "version": metadata["version"],
        "kind": metadata["kind"],
        "data_set": args.data_set,
        "model_dir": str(args.model_dir),
        **metadata["metrics"],
    }
    if champion:
        summary["champion_version"] = champion.version
    if args.archive:
        args.archive.parent.mkdir(parents=True, exist_ok=True)
        summary["archive"] = str(args.archive)
        summary["archive_sha256"] = pack(args.model_dir, args.archive)
    return summary


def report_failure(env: Mapping[str, str], error: BaseException, details: str) -> None:
    """SageMaker shows the failure file as the job's FailureReason."""
    target = failure_file(env)
    if target:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"{type(error).__name__}: {error}\n{details}")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        args = parse_args(argv)
    except (UsageError, ValueError) as error:  # ValueError: hyperparameters.json is not JSON
        report_failure(os.environ, error, "")
        print(error, file=sys.stderr)
        return 2
    try:
        summary = run(args)
    except Exception as error:
        report_failure(os.environ, error, traceback.format_exc())
        log.exception("training failed")
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
