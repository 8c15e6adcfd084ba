"""The SageMaker serving split: load the model, parse input, predict, format output.

Each step is a small function with no HTTP in it; :mod:`sentiment_model.server` wires them to
``GET /ping`` and ``POST /invocations``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from sentiment_model.artifact import kind_of, load_from_uri, read_uri
from sentiment_model.data import LABELS
from sentiment_model.encoder_graph import REFERENCE
from sentiment_model.explain import MAX_EXPLAINED, explain
from sentiment_model.language import identify
from sentiment_model.scorers import Scorer, scorer_for

MAX_INSTANCES = 256
MAX_TEXT_CHARS = 5000
MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker's own invocation payload limit
JSON_TYPE = "application/json"
LINE_TYPES = ("text/csv", "text/plain")
# Unicode's White_Space: a text of nothing else is empty. The API trims comments of the same set
# (sentiment_common.records.WHITE_SPACE; a test keeps the two equal), so a text the API stores is
# never one the model refuses.
WHITE_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"


class InputError(Exception):
    """A request the server refuses, with the HTTP status and what was wrong."""

    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []

    def body(self) -> bytes:
        return orjson.dumps({"message": self.message, "details": self.details})


@dataclass(frozen=True)
class LoadedModel:
    scorer: Scorer
    version: str
    metadata: dict[str, Any]
    graph: dict[str, Any] | None = None  # the encoder graph that runs, and how fast each ran here

    @property
    def batched(self) -> bool:
        """An encoder scores many texts for little more than one: the server batches its requests."""
        return kind_of(self.metadata) == "encoder"

    def describe(self) -> dict[str, Any]:
        """What /ping says about the model: its version, kind and (for an encoder model) encoder."""
        described: dict[str, Any] = {"model_version": self.version, "kind": kind_of(self.metadata)}
        if encoder := self.metadata.get("encoder"):
            described["encoder"] = {key: encoder.get(key) for key in ("name", "sha256", "licence")}
            if self.graph is not None:
                described["encoder"]["graph"] = self.graph
        return described


def load_model(
    uri: str, expected_sha256: str | None = None, expected_model_sha256: str | None = None, graph: str = REFERENCE
) -> LoadedModel:
    """``graph``: the encoder graph to run; a server passes ``auto`` (ENCODER_GRAPH), everything else runs
    the reference int8 graph that training measured."""
    artifact = load_from_uri(uri, expected_sha256, expected_model_sha256, graph)
    runs = artifact.encoder.choice.as_dict() if artifact.encoder is not None else None
    return LoadedModel(scorer_for(artifact), str(artifact.metadata["version"]), artifact.metadata, runs)


class ChampionPointer(BaseModel):
    """The registry's record of the model to serve (``models/champion.json``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: Annotated[str, Field(description="version of the champion model")]
    model_data_url: Annotated[
        str,
        Field(
            description="S3 URI (or, on a local stack, path) of its model.tar.gz: never a folder, which "
            "the archive's SHA-256 could not vouch for",
            pattern=r"^(s3://[^/]+/.+|[^:]+)\.tar\.gz$",
        ),
    ]
    sha256: Annotated[str, Field(description="SHA-256 of that model.tar.gz", pattern="^[0-9a-fA-F]{64}$")]
    model_sha256: Annotated[
        str | None,
        Field(description="SHA-256 of the model.joblib inside it, when known", pattern="^[0-9a-fA-F]{64}$"),
    ] = None

    @property
    def artifact(self) -> tuple[str, str]:
        """What identifies the model: a new version label on the same archive is the same model."""
        return self.model_data_url, self.sha256.lower()


def read_champion_pointer(uri: str) -> ChampionPointer:
    return ChampionPointer.model_validate_json(read_uri(uri))


def _media_type(content_type: str) -> tuple[str, str | None]:
    media, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


def _from_json(body: bytes) -> tuple[list[Any], bool]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InputError(400, f"body is not valid JSON: {error}") from None
    if not isinstance(payload, dict) or "instances" not in payload:
        raise InputError(400, 'body must be a JSON object with an "instances" list', [_detail("field required")])
    instances = payload["instances"]
    if not isinstance(instances, list):
        raise InputError(400, '"instances" must be a list of strings', [_detail(f"got {type(instances).__name__}")])
    wanted = payload.get("explain", False)
    if not isinstance(wanted, bool):
        raise InputError(400, '"explain" must be true or false', [{"loc": ["explain"], "msg": "not a boolean"}])
    if wanted and len(instances) > MAX_EXPLAINED:
        raise InputError(
            413,
            f"{len(instances)} texts to explain in one request: at most {MAX_EXPLAINED}",
            [_detail("too many to explain")],
        )
    return instances, wanted


def _detail(message: str, index: int | None = None) -> dict[str, Any]:
    return {"loc": ["instances"] if index is None else ["instances", index], "msg": message}


def _texts_from_lines(body: bytes, media: str) -> list[Any]:
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(400, f"body is not valid UTF-8: byte {error.start} cannot be decoded") from None
    lines = [line for line in decoded.splitlines() if line.strip(WHITE_SPACE)]
    if media == "text/csv":
        # Quoted CSV fields lose their quotes; a text with bare commas is joined back whole.
        return [",".join(row) for row in csv.reader(lines)]
    return lines


@dataclass(frozen=True)
class Invocation:
    """A parsed ``POST /invocations``: the texts, and whether each answer should say why (JSON only)."""

    texts: list[str]
    explain: bool = False


def parse_input(body: bytes, content_type: str | None) -> Invocation:
    """The request, or :class:`InputError` saying exactly what is wrong."""
    media, charset = _media_type(content_type or "")
    if charset not in (None, "utf-8", "utf8"):
        raise InputError(415, f"charset {charset!r} is not supported: send UTF-8")
    explained = False
    if media == JSON_TYPE:
        instances, explained = _from_json(body)
    elif media in LINE_TYPES:
        instances = _texts_from_lines(body, media)
    else:
        supported = f"{JSON_TYPE}, text/csv or text/plain"
        raise InputError(415, f"content type {media or '(none)'!r} is not supported: use {supported}")
    return Invocation(check_texts(instances), explained)


def check_texts(instances: list[Any]) -> list[str]:
    """1 to 256 non-blank strings of at most 5000 characters; every problem is reported."""
    if not instances:
        raise InputError(400, "no texts given: send 1 to 256", [_detail("empty")])
    if len(instances) > MAX_INSTANCES:
        raise InputError(413, f"{len(instances)} texts in one request: at most {MAX_INSTANCES}", [_detail("too many")])
    details = []
    for index, text in enumerate(instances):
        if not isinstance(text, str):
            details.append(_detail(f"must be a string, got {type(text).__name__}", index))
        elif not text.strip(WHITE_SPACE):
            details.append(_detail("empty text", index))
        elif len(text) > MAX_TEXT_CHARS:
            details.append(_detail(f"{len(text)} characters: at most {MAX_TEXT_CHARS}", index))
    if details:
        raise InputError(400, f"{len(details)} of {len(instances)} texts are invalid", details)
    return instances


def predict(model: LoadedModel, texts: list[str]) -> list[dict[str, Any]]:
    """Each text's label and scores, with its language and whether the model was trained for it
    (:mod:`sentiment_model.language`): a text in another language is scored all the same, and marked."""
    probabilities = model.scorer.predict_proba(texts)
    predictions = []
    for row, language in zip(probabilities.tolist(), identify(texts), strict=True):
        best = max(range(len(LABELS)), key=row.__getitem__)
        predictions.append(
            {
                "label": LABELS[best],
                "scores": dict(zip(LABELS, row, strict=True)),
                "confidence": row[best],
                "model_version": model.version,
                "language": language.code,
                "supported": language.supported,
            }
        )
    return predictions


def predict_explained(model: LoadedModel, texts: list[str]) -> list[dict[str, Any]]:
    """Predictions with the ``explanation`` of each (:mod:`sentiment_model.explain`)."""
    predictions = predict(model, texts)
    for prediction, explanation in zip(predictions, explain(model.scorer, texts), strict=True):
        prediction["explanation"] = explanation
    return predictions


def format_output(predictions: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"predictions": predictions})
