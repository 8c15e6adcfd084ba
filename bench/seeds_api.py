"""The seeds-style inference API that both reference servers serve: FastAPI with pydantic request and
response models, the way the seeds' inference service declares them.

    GET  /ping         200 once the app is up (the model is loaded at import)
    POST /invocations  {"instances": ["text", ...]}  ->  {"predictions": [{"label", "scores", "confidence"}]}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel


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


def seeds_app(title: str, classes: Sequence[str], predict_proba: Callable[[list[str]], Any]) -> FastAPI:
    """The app: ``predict_proba`` gives one row of probabilities (in ``classes`` order) per text."""
    app = FastAPI(title=title)

    @app.get("/ping")
    def ping() -> dict[str, str]:
        """Health check."""
        return {"status": "ok"}

    @app.post("/invocations")
    def invocations(request: Instances) -> Predictions:
        predictions = []
        for row in predict_proba(request.instances).tolist():
            best = max(range(len(classes)), key=row.__getitem__)
            scores = dict(zip(classes, row, strict=True))
            predictions.append(Prediction(label=classes[best], scores=scores, confidence=row[best]))
        return Predictions(predictions=predictions)

    return app
