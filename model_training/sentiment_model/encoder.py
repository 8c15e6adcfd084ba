"""The sentence encoder at serving time: tokenizers + onnxruntime, no PyTorch.

An encoder folder holds ``model.onnx`` (token ids and attention mask in, one mean-pooled,
L2-normalised sentence embedding per text out), ``tokenizer.json`` and ``encoder.json`` (its name,
licence, what it was made from, and the SHA-256 of both files). Nothing is loaded before both
files match the hashes ``encoder.json`` records and, when the caller expects a particular encoder
(a model artifact's metadata names one), ``model.onnx`` matches that hash too.

Embeddings are cached by the SHA-256 of the prepared text, so a retraining run encodes only
the texts it has not seen before (:class:`EmbeddingCache`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sentiment_model.data import sha256_file
from sentiment_model.emoji import spell_out

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
RECORD_FILE = "encoder.json"
FILES = (MODEL_FILE, TOKENIZER_FILE, RECORD_FILE)

# The encoder the project ships: fine-tuned by model_training/finetune.py, committed with its record.
BUNDLED = Path(__file__).resolve().parent.parent / "encoders" / "minilm-sentiment"

_LINK = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_HANDLE = re.compile(r"@\w+")
_SPACE = re.compile(r"\s+")


class EncoderError(RuntimeError):
    """The encoder is missing, incomplete, or does not match its recorded hash."""


def prepare(text: str) -> str:
    """What the encoder reads: emoji spelled out as their names (its vocabulary has almost none of
    them), links and @handles become placeholders (they carry no sentiment and would spend the token
    budget), whitespace is folded. Fine-tuning uses the same rule; the bundled encoder was fine-tuned
    before emoji were spelled out, and reads their names as the words they are."""
    text = spell_out(text)
    text = _LINK.sub("http", text)
    text = _HANDLE.sub("@user", text)
    return _SPACE.sub(" ", text).strip()


def text_key(text: str) -> str:
    return hashlib.sha256(prepare(text).encode("utf-8")).hexdigest()


def read_record(folder: Path) -> dict[str, Any]:
    try:
        record: dict[str, Any] = json.loads((folder / RECORD_FILE).read_text())
    except FileNotFoundError as error:
        raise EncoderError(f"no encoder in {folder}: {RECORD_FILE} is missing") from error
    return record


def verify(folder: Path, expected_sha256: str | None = None) -> dict[str, Any]:
    """The folder's record, once ``model.onnx`` and ``tokenizer.json`` match the hashes it records
    and (when given) the model matches ``expected_sha256``."""
    record = read_record(folder)
    files = record.get("files") or {}
    for name in (MODEL_FILE, TOKENIZER_FILE):
        path = folder / name
        if not path.is_file():
            raise EncoderError(f"incomplete encoder in {folder}: {name} is missing")
        actual, recorded = sha256_file(path), files.get(name)
        if actual != recorded:
            raise EncoderError(f"{path} has SHA-256 {actual}, {RECORD_FILE} records {recorded}")
    if expected_sha256 and files[MODEL_FILE] != expected_sha256.lower():
        raise EncoderError(f"encoder {folder} has SHA-256 {files[MODEL_FILE]}, expected {expected_sha256}")
    return record


@dataclass(frozen=True)
class EncoderInfo:
    """What a model artifact records about its encoder."""

    name: str
    sha256: str  # of model.onnx
    licence: str
    dimensions: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def session_options(threads: int) -> Any:
    import onnxruntime as ort  # noqa: PLC0415 - only the encoder kind needs it

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


class Encoder:
    """Texts in, L2-normalised embeddings out (float32, one row per text).

    Each text is run alone, unpadded: dynamic int8 quantization scales a batch's activations by the
    batch's own range, so a text batched with others would get slightly different numbers (a cosine
    of 0.98 seen here) than alone. Alone, a text always gets the same embedding, in a batch request
    or a single one, in training or in serving. Several texts are spread over ``threads`` threads
    (onnxruntime releases the GIL); one text runs on one thread (3.3 ms p50 here).
    """

    def __init__(self, folder: Path, expected_sha256: str | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort  # noqa: PLC0415 - only the encoder kind needs it
        from tokenizers import Tokenizer  # noqa: PLC0415

        record = verify(folder, expected_sha256)
        self.folder = folder
        self.info = EncoderInfo(
            name=str(record["name"]),
            sha256=str(record["files"][MODEL_FILE]),
            licence=str(record["licence"]),
            dimensions=int(record["dimensions"]),
        )
        self.max_tokens = int(record.get("max_tokens", 128))
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        self.tokenizer.no_padding()
        self.threads = threads or int(os.environ.get("ENCODER_THREADS", "0")) or (os.cpu_count() or 1)
        self.session = ort.InferenceSession(
            str(folder / MODEL_FILE), session_options(1), providers=["CPUExecutionProvider"]
        )
        self._pool: ThreadPoolExecutor | None = None

    def _run(self, ids: list[int]) -> NDArray[np.float32]:
        tokens = np.array([ids], dtype=np.int64)
        (embedding,) = self.session.run(None, {"input_ids": tokens, "attention_mask": np.ones_like(tokens)})
        return np.asarray(embedding[0], dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embeddings in the order given."""
        encodings = self.tokenizer.encode_batch([prepare(text) for text in texts])
        ids = [encoding.ids for encoding in encodings]
        if len(ids) <= 1 or self.threads == 1:
            rows = [self._run(one) for one in ids]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="encoder")
            rows = list(self._pool.map(self._run, ids))
        return np.stack(rows) if rows else np.empty((0, self.info.dimensions), dtype=np.float32)


class EmbeddingCache:
    """Embeddings by text hash, kept in one ``.npz`` per encoder: a run encodes only new texts.

    Stored as float16 (half the size; the heads do not notice), and a text just encoded is rounded
    the same way, so a run gives the same model whether its embeddings came from the cache or not.
    The file is replaced atomically; a cache for another encoder (another hash) is never read.
    """

    def __init__(self, directory: Path | None, encoder: Encoder) -> None:
        self.encoder = encoder
        self.path = directory / f"embeddings-{encoder.info.sha256[:16]}.npz" if directory else None
        self._vectors: dict[str, NDArray[np.float16]] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        if self.path and self.path.is_file():
            with np.load(self.path) as stored:
                keys, vectors = stored["keys"], stored["vectors"]
            self._vectors = dict(zip(keys.tolist(), vectors, strict=True))

    def __len__(self) -> int:
        return len(self._vectors)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        keys = [text_key(text) for text in texts]
        with self._lock:
            missing = list(dict.fromkeys(key for key in keys if key not in self._vectors))
            first_text = dict(zip(keys, texts, strict=True))
            if missing:
                fresh = self.encoder.encode([first_text[key] for key in missing])
                self._vectors.update(zip(missing, fresh.astype(np.float16), strict=True))
            self.misses += len(missing)
            self.hits += len(keys) - len(missing)
            if not keys:
                return np.empty((0, self.encoder.info.dimensions), np.float32)
            return np.stack([self._vectors[key] for key in keys]).astype(np.float32)

    def save(self) -> None:
        """Write the cache, unless nothing was added since it was read."""
        if not self.path or (self.path.is_file() and not self.misses):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors), dtype="U64")
        vectors = np.stack(list(self._vectors.values())) if self._vectors else np.empty((0, 0), np.float16)
        scratch = self.path.with_suffix(f".{os.getpid()}.tmp.npz")  # one each: trainings in parallel share the folder
        np.savez(scratch, keys=keys, vectors=vectors)
        os.replace(scratch, self.path)
