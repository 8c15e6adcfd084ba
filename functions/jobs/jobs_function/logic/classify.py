"""ClassifyBatch: one batch of rows (the map's ItemBatcher), one call to the model.

Rows the model is not asked about get Comprehend's per-line error instead: empty text, or longer than
the API's limit for one comment (``DOCUMENT_SIZE_EXCEEDED``). The model being down or starting raises
:class:`~sentiment_common.errors.ModelUnavailableError` (or ``ModelStartingError``), which the state
machine's ``Retry`` matches by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs_function.logic.rows import text_of
from jobs_function.steps import Batch, BatchResult, ResultRow
from sentiment_common.jobs import RowError
from sentiment_common.records import MAX_COMMENT_CHARS, WHITE_SPACE

if TYPE_CHECKING:  # the protocol only: the client itself is built by the handler's dependencies
    from sentiment_common.inference import Predictor


def classify_batch(batch: Batch, model: Predictor) -> BatchResult:
    field = batch.batch_input.text_field
    answered: list[int] = []
    texts: list[str] = []
    results: dict[int, ResultRow] = {}
    for item in batch.items:
        text = text_of(item.row.get(field) if isinstance(item.row, dict) else None).strip(WHITE_SPACE)
        if not text:
            results[item.index] = (item.index, None, None, None, None, None, RowError.EMPTY_TEXT, None, None)
        elif len(text) > MAX_COMMENT_CHARS:
            results[item.index] = (
                item.index,
                None,
                None,
                None,
                None,
                None,
                RowError.DOCUMENT_SIZE_EXCEEDED,
                None,
                None,
            )
        else:
            answered.append(item.index)
            texts.append(text)
    if texts:
        for index, prediction in zip(answered, model.predict(texts), strict=True):
            scores = prediction.rounded().scores
            results[index] = (
                index,
                prediction.label,
                scores.negative,
                scores.neutral,
                scores.positive,
                prediction.model_version,
                None,
                prediction.language,
                prediction.supported,
            )
    return BatchResult(rows=[results[item.index] for item in batch.items])
