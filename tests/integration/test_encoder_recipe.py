"""The encoder recipe's export and quantization, checked on the pinned all-MiniLM-L6-v2 itself:
our tokenizer + ONNX graph give sentence-transformers' own embeddings, the ONNX graph agrees with
the PyTorch module it was exported from, and int8 quantization costs at most a point on the golden
split. (Fine-tuning changes the weights, not the graph: these hold for the bundled encoder too.)

PyTorch, sentence-transformers and the recipe (the finetune extra) are imported by the tests that use them,
not at collection: every pytest-xdist worker collects this file, one runs it. The tests are marked slow
(a MiniLM exported and quantized, then loaded by sentence-transformers): make check needs no PyTorch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sentiment_model.data import read_split
from sentiment_model.encoder import Encoder, prepare
from sentiment_model.model import ModelParams
from sentiment_model.training import train

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "model_training" / "data"
TEXTS = [
    "Not bad at all, actually really handy",
    "The meeting is at 3pm in room 4",
    "@united my bag never arrived and nobody answers the phone https://t.co/x",
    "A film of rare grace, and a quiet, devastating finale.",
    "ok",
    "Could you send me the invoice for March again, please?",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    import torch  # noqa: PLC0415 - the finetune extra, only where it is used

    import finetune  # noqa: PLC0415 - model_training/finetune.py: the finetune extra, which make test installs

    scratch = tmp_path_factory.mktemp("recipe")
    folder = finetune.base_model(scratch)
    model = finetune.SentenceEncoder(folder).eval()
    onnx = scratch / "fp32.onnx"
    with torch.no_grad():
        finetune.export(model, onnx)
    settings = {"name": "all-minilm-l6-v2", "recipe": {"fine_tuned": False}, "max_tokens": 128}
    finetune.package(scratch / "fp32", onnx, folder, **settings, quantized=False)
    finetune.package(scratch / "int8", onnx, folder, **settings)
    yield {"folder": folder, "model": model, "fp32": scratch / "fp32", "int8": scratch / "int8"}


@pytest.mark.slow  # MiniLM exported to ONNX and quantized, then loaded again by sentence-transformers
def test_tokenizer_and_onnx_encoder_give_sentence_transformers_embeddings(exported: dict[str, object]) -> None:
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - the finetune extra

    reference = SentenceTransformer(str(exported["folder"]), device="cpu", local_files_only=True)
    expected = reference.encode([prepare(text) for text in TEXTS], normalize_embeddings=True)
    ours = Encoder(Path(str(exported["fp32"])), threads=1).encode(TEXTS)
    cosine = np.sum(ours * expected, axis=1)
    assert cosine.min() > 0.9999, cosine


@pytest.mark.slow  # MiniLM exported to ONNX and quantized
def test_the_onnx_graph_agrees_with_the_pytorch_module_on_a_padded_batch(exported: dict[str, object]) -> None:
    import torch  # noqa: PLC0415 - the finetune extra

    import finetune  # noqa: PLC0415 - the finetune extra

    encoder = Encoder(Path(str(exported["fp32"])), threads=1)
    encodings = encoder.tokenizer.encode_batch([prepare(text) for text in TEXTS])
    ids, mask = finetune.pad([encoding.ids for encoding in encodings])
    model = exported["model"]
    assert isinstance(model, finetune.SentenceEncoder)
    with torch.no_grad():
        expected = model(ids, mask).numpy()
    (actual,) = encoder.session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    assert np.abs(actual - expected).max() < 1e-4


def golden_scores(encoder: Path) -> tuple[float, float]:
    """The model as a run trains it (TF-IDF features and embeddings, gated heads) on a sample of the base
    split, with this encoder: reviews accuracy and tweets macro-F1 on the whole golden split."""
    result = train(DATA, None, ModelParams(), sample=2000, seed=3, encoder_dir=encoder, cache_dir=None)
    metrics = result.metadata["metrics"]
    return metrics["reviews_accuracy"], metrics["tweets_macro_f1"]


@pytest.mark.slow  # two trainings, each encoding the whole golden split afresh: about two minutes
def test_int8_quantization_costs_at_most_a_point_on_the_golden_split(exported: dict[str, object]) -> None:
    fp32 = golden_scores(Path(str(exported["fp32"])))
    int8 = golden_scores(Path(str(exported["int8"])))
    assert int8[0] >= fp32[0] - 0.01, (fp32, int8)
    assert int8[1] >= fp32[1] - 0.01, (fp32, int8)
    size = {name: (Path(str(exported[name])) / "model.onnx").stat().st_size for name in ("fp32", "int8")}
    assert size["int8"] < size["fp32"] / 3


@pytest.mark.slow  # imports the recipe, which needs PyTorch
def test_the_recipe_holds_out_about_a_tenth_of_the_base_rows_by_whole_movie() -> None:
    import finetune  # noqa: PLC0415 - the finetune extra

    base, _ = read_split(DATA / "base")
    held = finetune.held_out(base)
    assert 0.07 < held.mean() < 0.13
    reviews = base["source"].to_numpy() == "reviews"
    movies = base["movie"].to_numpy()
    # A film's reviews are all held out or all trained on: the held-out score is on films the encoder never read.
    assert not set(movies[reviews & held]) & set(movies[reviews & ~held])
    assert 0.07 < held[~reviews].mean() < 0.13


@pytest.mark.slow  # two short epochs of fine-tuning on a sample, then the export and quantization
def test_the_recipe_scores_every_epoch_on_held_out_rows_and_keeps_the_best(tmp_path: Path) -> None:
    import finetune  # noqa: PLC0415 - the finetune extra

    out = tmp_path / "encoder"
    assert finetune.main(["--sample", "80", "--epochs", "2", "--patience", "2", "--out", str(out)]) == 0
    recipe = json.loads((out / "encoder.json").read_text())["recipe"]
    history = recipe["history"]
    assert [epoch["epoch"] for epoch in history] == [1, 2]
    scores = [epoch["held_out"]["score"] for epoch in history]
    assert recipe["epochs"] == history[scores.index(max(scores))]["epoch"]
    assert recipe["held_out_rows"] > 0
    assert recipe["rows"] + recipe["held_out_rows"] == 160


@pytest.mark.slow  # imports the recipe, which needs PyTorch
def test_the_recipe_keeps_the_best_epoch_and_stops_when_patience_runs_out() -> None:
    import finetune  # noqa: PLC0415 - the finetune extra

    def history(*scores: float) -> list[dict[str, object]]:
        return [{"epoch": i, "held_out": {"score": score}} for i, score in enumerate(scores, start=1)]

    assert finetune.keep(history(0.70), patience=1) == (1, False)
    assert finetune.keep(history(0.70, 0.75), patience=1) == (2, False)
    assert finetune.keep(history(0.70, 0.75, 0.74), patience=1) == (2, True)
    assert finetune.keep(history(0.70, 0.75, 0.74), patience=2) == (2, False)
    # A tie is no improvement: the earlier epoch is kept.
    assert finetune.keep(history(0.70, 0.70), patience=1) == (1, True)
