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
import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sentiment_model.data import sha256_file
from sentiment_model.emoji import spell_out
from sentiment_model.encoder_graph import GRAPHS, PROBE_TEXTS, REFERENCE, Choice, Graph, checked, choose, fp32_graph

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
RECORD_FILE = "encoder.json"
FILES = (MODEL_FILE, TOKENIZER_FILE, RECORD_FILE)
# The bundled data's embeddings, made with the folder's encoder and pinned in its record (``seed``):
# a first training run reads them instead of encoding 40,000 texts (about 80 s on 2 cores).
SEED_FILE = "embeddings.npz"

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

    ``graph`` is the shipped int8 graph (the reference: training and the embedding cache use it), the
    fp32 graph derived from it, or ``auto``: whichever of the two is faster on this CPU, timed at
    start-up (:mod:`sentiment_model.encoder_graph`); ``choice`` says which runs and why.
    """

    def __init__(
        self, folder: Path, expected_sha256: str | None = None, threads: int | None = None, graph: str = REFERENCE
    ) -> None:
        from tokenizers import Tokenizer  # noqa: PLC0415 - only the encoder kind needs it

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
        self.session, self.choice = self._open(checked(graph))
        self._pool: ThreadPoolExecutor | None = None

    def _open(self, graph: str) -> tuple[Any, Choice]:
        """The session of the graph asked for; for ``auto``, of the faster graph on this CPU."""
        import onnxruntime as ort  # noqa: PLC0415

        def session(name: str) -> Any:
            model = str(self.folder / MODEL_FILE) if name == REFERENCE else fp32_graph(self.folder / MODEL_FILE)
            return ort.InferenceSession(model, session_options(1), providers=["CPUExecutionProvider"])

        if graph != "auto":
            return session(graph), Choice(graph, graph, {})  # type: ignore[arg-type]
        probes = [encoding.ids for encoding in self.tokenizer.encode_batch([prepare(t) for t in PROBE_TEXTS])]
        sessions = {name: session(name) for name in GRAPHS}

        def runner(name: Graph) -> Callable[[], object]:
            return lambda: [self._run(ids, sessions[name]) for ids in probes]

        choice = choose({name: runner(name) for name in GRAPHS})
        return sessions[choice.graph], choice

    def _run(self, ids: list[int], session: Any = None) -> NDArray[np.float32]:
        tokens = np.array([ids], dtype=np.int64)
        feeds = {"input_ids": tokens, "attention_mask": np.ones_like(tokens)}
        (embedding,) = (session or self.session).run(None, feeds)
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

    A text the cache lacks is looked up in the encoder folder's seed (:data:`SEED_FILE`, the bundled
    data's embeddings) before it is encoded, once the seed matches the SHA-256 the folder's record pins;
    what is taken from it is kept in the cache like anything encoded.
    """

    def __init__(self, directory: Path | None, encoder: Encoder) -> None:
        self.encoder = encoder
        self.path = directory / f"embeddings-{encoder.info.sha256[:16]}.npz" if directory else None
        self._vectors: dict[str, NDArray[np.float16]] = {}
        self._seed: dict[str, NDArray[np.float16]] | None = None
        self._lock = threading.Lock()
        self.hits = self.misses = self.seeded = 0
        if self.path and self.path.is_file():
            self._vectors = read_embeddings(self.path)

    def __len__(self) -> int:
        return len(self._vectors)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        keys = [text_key(text) for text in texts]
        with self._lock:
            missing = list(dict.fromkeys(key for key in keys if key not in self._vectors))
            self.hits += len(keys) - len(missing)
            first_text = dict(zip(keys, texts, strict=True))
            if missing:
                seed = self._seed_vectors()
                found = [key for key in missing if key in seed]
                self._vectors.update((key, seed[key]) for key in found)
                self.seeded += len(found)
                missing = [key for key in missing if key not in seed]
            if missing:
                fresh = self.encoder.encode([first_text[key] for key in missing])
                self._vectors.update(zip(missing, fresh.astype(np.float16), strict=True))
            self.misses += len(missing)
            if not keys:
                return np.empty((0, self.encoder.info.dimensions), np.float32)
            return np.stack([self._vectors[key] for key in keys]).astype(np.float32)

    def _seed_vectors(self) -> dict[str, NDArray[np.float16]]:
        if self._seed is None:
            self._seed = read_seed(self.encoder.folder)
        return self._seed

    def save(self) -> None:
        """Write the cache, unless nothing was added since it was read."""
        if not self.path or (self.path.is_file() and not self.misses and not self.seeded):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors), dtype="U64")
        vectors = np.stack(list(self._vectors.values())) if self._vectors else np.empty((0, 0), np.float16)
        scratch = self.path.with_suffix(f".{os.getpid()}.tmp.npz")  # one each: trainings in parallel share the folder
        np.savez(scratch, keys=keys, vectors=vectors)
        os.replace(scratch, self.path)


def read_embeddings(path: Path) -> dict[str, NDArray[np.float16]]:
    with np.load(path) as stored:
        keys, vectors = stored["keys"], stored["vectors"]
    return dict(zip(keys.astype(str).tolist(), vectors, strict=True))


def read_seed(folder: Path) -> dict[str, NDArray[np.float16]]:
    """The folder's seed, or nothing when it has none or it is not the file its record pins."""
    path, pinned = folder / SEED_FILE, (read_record(folder).get("seed") or {}).get("sha256")
    if not path.is_file() or not pinned:
        return {}
    actual = sha256_file(path)
    if actual != pinned:
        log.warning("ignoring %s: SHA-256 %s, %s pins %s", path, actual, RECORD_FILE, pinned)
        return {}
    return read_embeddings(path)


def write_seed(folder: Path, texts: Sequence[str], threads: int | None = None) -> dict[str, Any]:
    """Encode ``texts`` with the folder's encoder into its seed, and pin the seed in its record."""
    encoder = Encoder(folder, threads=threads)
    keys = list(dict.fromkeys(text_key(text) for text in texts))
    first_text = dict(zip((text_key(text) for text in texts), texts, strict=False))
    vectors = encoder.encode([first_text[key] for key in keys]).astype(np.float16)
    scratch = folder / f"{SEED_FILE}.{os.getpid()}.tmp.npz"
    np.savez_compressed(scratch, keys=np.array(keys, dtype="S64"), vectors=vectors)
    os.replace(scratch, folder / SEED_FILE)
    record = read_record(folder)
    record["seed"] = {
        "file": SEED_FILE,
        "sha256": sha256_file(folder / SEED_FILE),
        "texts": len(keys),
        "what": "the bundled data's texts (base and golden splits), each encoded alone; float16",
    }
    (folder / RECORD_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return dict(record["seed"])
