"""SageMaker training entry point; runs the same way on a laptop.

SageMaker sets ``SM_CHANNEL_TRAIN`` (and ``SM_CHANNEL_FEEDBACK`` when the job has that channel),
``SM_MODEL_DIR`` and ``SM_OUTPUT_DATA_DIR``, and passes hyper-parameters as ``--name value``.
Outside SageMaker the defaults point at the project's own data and ``build/model``.

Writes ``model.joblib``, ``metadata.json`` and ``metrics.json`` to the model folder (SageMaker
packs it as ``model.tar.gz``), ``metrics.json`` to the output-data folder, and with
``--archive`` also packs ``model.tar.gz`` itself.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # SageMaker runs this file as a script from its source folder

from sentiment_model.artifact import pack, write_model_dir  # noqa: E402
from sentiment_model.model import ModelParams  # noqa: E402
from sentiment_model.training import train  # noqa: E402

DEFAULT_PARAMS = ModelParams()
FAILURE_FILE = Path("/opt/ml/output/failure")


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description="Train the sentiment model.")
    parser.add_argument(
        "--train",
        type=Path,
        default=Path(env.get("SM_CHANNEL_TRAIN", HERE / "data")),
        help="folder with base/*.csv and golden/*.csv",
    )
    parser.add_argument(
        "--feedback",
        type=_path_or_none,
        default=_path_or_none(env.get("SM_CHANNEL_FEEDBACK")),
        help="folder of feedback JSON objects (optional)",
    )
    parser.add_argument(
        "--model-dir", "--model_dir", type=Path, default=Path(env.get("SM_MODEL_DIR", HERE.parent / "build" / "model"))
    )
    parser.add_argument(
        "--output-data-dir",
        "--output_data_dir",
        type=_path_or_none,
        default=_path_or_none(env.get("SM_OUTPUT_DATA_DIR")),
    )
    parser.add_argument("--archive", type=Path, help="also pack model.tar.gz here")
    parser.add_argument("--version", help="model version (default: UTC time + data/parameter fingerprint)")
    parser.add_argument("--C", "--c", dest="C", type=float, default=DEFAULT_PARAMS.C, help="inverse regularisation")
    parser.add_argument("--min-df", "--min_df", type=int, default=DEFAULT_PARAMS.min_df)
    parser.add_argument("--max-iter", "--max_iter", type=int, default=DEFAULT_PARAMS.max_iter)
    parser.add_argument("--review-weight", "--review_weight", type=float, default=DEFAULT_PARAMS.review_weight)
    parser.add_argument("--feedback-weight", "--feedback_weight", type=float, default=DEFAULT_PARAMS.feedback_weight)
    parser.add_argument("--sample", type=int, help="train on at most this many base rows per source")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    params = ModelParams(
        C=args.C,
        min_df=args.min_df,
        max_iter=args.max_iter,
        review_weight=args.review_weight,
        feedback_weight=args.feedback_weight,
    )
    try:
        result = train(args.train, args.feedback, params, version=args.version, sample=args.sample, seed=args.seed)
        metadata = write_model_dir(args.model_dir, result.model, result.metadata, result.metrics)
        if args.output_data_dir:
            args.output_data_dir.mkdir(parents=True, exist_ok=True)
            (args.output_data_dir / "metrics.json").write_text(json.dumps(result.metrics, indent=2) + "\n")
        summary = {"version": metadata["version"], "model_dir": str(args.model_dir), **metadata["metrics"]}
        if args.archive:
            args.archive.parent.mkdir(parents=True, exist_ok=True)
            summary["archive"] = str(args.archive)
            summary["archive_sha256"] = pack(args.model_dir, args.archive)
        print(json.dumps(summary))
        return 0
    except Exception as error:
        # SageMaker shows this file as the job's FailureReason.
        if FAILURE_FILE.parent.is_dir():
            FAILURE_FILE.write_text(f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
        logging.getLogger("train").exception("training failed")
        return 1


if __name__ == "__main__":
    sys.exit(main())
