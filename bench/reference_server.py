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
from fastapi import FastAPI
from pydantic import BaseModel
from sklearn.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent
MODEL_PATH = Path(os.environ.get("REFERENCE_MODEL", ROOT / "build" / "bench" / "reference.joblib"))

pipeline: Pipeline = joblib.load(MODEL_PATH)
classes: list[str] = [str(label) for label in pipeline.classes_]
app = FastAPI(title="reference sentiment server")


class Instances(BaseModel):
    """The request: the texts to classify."""

    instances: list[str]


class Prediction(BaseModel):
    """One text's label, the probability of every label, and the winning probability."""

    label: str
    scores: dict[str, float]
    confidence: float


class Predictions(BaseModel):
    """The response: one prediction per text, in request order."""

    predictions: list[Prediction]


@app.get("/ping")
def ping() -> dict[str, str]:
    """Health check."""
    return {"status": "ok"}


@app.post("/invocations")
def invocations(request: Instances) -> Predictions:
    """Class probabilities from the scikit-learn pipeline, as the seeds computed them."""
    probabilities = pipeline.predict_proba(request.instances)
    predictions = []
    for row in probabilities.tolist():
        best = max(range(len(classes)), key=row.__getitem__)
        predictions.append(
            Prediction(label=classes[best], scores=dict(zip(classes, row, strict=True)), confidence=row[best])
        )
    return Predictions(predictions=predictions)
