"""The seeds-style transformer server: FastAPI + sentence-transformers on PyTorch, one text at a time.

What the seeds' inference service does with a transformer: load a SentenceTransformer at import,
and for each request encode its texts with PyTorch and apply a classifier to the embeddings. The
encoder is all-MiniLM-L6-v2 from the pinned package (the architecture our encoder was fine-tuned
from: the same layers, the same cost per text); the classifier is the heads of the encoder model
the benchmark trained (``ENCODER_MODEL``: its model folder; its TF-IDF part included), so both
servers do the same work but for how they encode.

    uvicorn reference_transformer_server:app --app-dir bench --workers 1

    GET  /ping         200 once the app is up (the model is loaded at import)
    POST /invocations  {"instances": ["text", ...]}  ->  {"predictions": [{"label", "scores", "confidence"}]}
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import all_minilm_l6_v2
import joblib
import torch
from sentence_transformers import SentenceTransformer

from seeds_api import seeds_app
from sentiment_model.encoder_model import EncoderScorer

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = Path(os.environ.get("ENCODER_MODEL", ROOT / "build" / "bench" / "model"))
LABELS = ("negative", "neutral", "positive")

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", str(os.cpu_count() or 1))))
_unpacked = tempfile.mkdtemp(prefix="minilm-")
with zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()) as bundle:
    bundle.extractall(_unpacked)
encoder = SentenceTransformer(_unpacked, device="cpu", local_files_only=True)
scorer = EncoderScorer(
    joblib.load(MODEL_DIR / "model.joblib"),
    lambda texts: encoder.encode(list(texts), convert_to_numpy=True, normalize_embeddings=True),
)
app = seeds_app("seeds-style transformer sentiment server", LABELS, scorer.predict_proba)
