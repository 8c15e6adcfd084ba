"""The seeds-style reference server: FastAPI, a pydantic request model, the seeds' pipeline.

The benchmark trains the pipeline, saves it with joblib and points ``REFERENCE_MODEL`` at the
file, then serves this app with uvicorn and one worker::

    uvicorn reference_server:app --app-dir bench --workers 1

    GET  /ping         200 once the app is up (the pipeline is loaded at import)
    POST /invocations  {"instances": ["text", ...]}  ->  {"predictions": [{"label", "scores", "confidence"}]}
"""

from __future__ import annotations

import os
from pathlib import Path

import joblib
from sklearn.pipeline import Pipeline

from seeds_api import seeds_app

ROOT = Path(__file__).resolve().parent.parent
MODEL_PATH = Path(os.environ.get("REFERENCE_MODEL", ROOT / "build" / "bench" / "reference.joblib"))

pipeline: Pipeline = joblib.load(MODEL_PATH)
classes: list[str] = [str(label) for label in pipeline.classes_]
# Class probabilities from the scikit-learn pipeline, as the seeds computed them.
app = seeds_app("reference sentiment server", classes, pipeline.predict_proba)
