"""The monitoring table: counters the API adds to as comments are classified and labelled.

Item layout (``pk``, ``sk``):
- ``DAY``     / ``YYYY-MM-DD``  comments classified that UTC day per label (``label_<label>``), the sum of
  their confidences, per confidence bin (``bin_<i>``), feedback given on classified comments, and how
  much of it confirmed the label (``feedback``, ``agreed``), in all and per source (``feedback_<source>``,
  ``agreed_<source>``; a public suggestion counts there, not in the version's cells)
- ``VERSION`` / model version  ``cell_<predicted>_<given>``: comments that version classified and people
  labelled, each counted once with its latest label
- ``QUEUE``   / ``OPEN``        ``open``: comments in the review queue (classified, nobody's label yet)

Each change is one ``ADD`` update, made after the comment's own write has succeeded: a retry
answered from the idempotency store adds nothing twice. A counter update that fails is logged and
counted (``MonitoringNotCounted``) and the request still succeeds: the comment matters more than its
tally, which is then short by that one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

from sentiment_common.dal.aws import TableAdapter
from sentiment_common.dal.table import query_all
from sentiment_common.dal.transient import TRANSIENT_CODES, unavailable_when_transient
from sentiment_common.models import LABELS, Label, LabelSource, Prediction
from sentiment_common.monitoring import BINS, DayCounts, VersionCounts, confidence_bin
from sentiment_common.observability import count, logger

DAY, VERSION, QUEUE, OPEN = "DAY", "VERSION", "QUEUE", "OPEN"


class DynamoDbMonitoringCounters(TableAdapter):
    # ---- counting: never fails the request ----

    def classified(self, predictions: Iterable[Prediction], day: date, queued: bool = True) -> None:
        """Comments classified on ``day``; ``queued`` when they joined the review queue."""
        predictions = list(predictions)
        if not predictions:
            return
        additions: Counter[str] = Counter()
        confidence = Decimal(0)
        for prediction in predictions:
            additions[f"label_{prediction.label}"] += 1
            additions[f"bin_{confidence_bin(prediction.confidence)}"] += 1
            confidence += Decimal(str(prediction.confidence))
        self._add(DAY, day.isoformat(), {**additions, "confidence_sum": confidence})
        if queued:
            self._add(QUEUE, OPEN, {"open": len(predictions)})

    def labelled(
        self,
        prediction: Prediction,
        given: Label,
        previous: Label | None,
        day: date,
        first: bool,
        *,
        source: LabelSource = LabelSource.PUBLIC,
    ) -> None:
        """Feedback ``given`` on ``day`` for a classified comment whose latest label was ``previous``.
        ``first``: nobody had labelled it, so it leaves the review queue."""
        self._add(DAY, day.isoformat(), day_additions(prediction, given, source))
        cells: Counter[str] = Counter({f"cell_{prediction.label}_{given}": 1})
        if previous is not None:
            cells[f"cell_{prediction.label}_{previous}"] -= 1
        changes = {name: value for name, value in cells.items() if value}
        if changes:
            self._add(VERSION, prediction.model_version, changes)
        if first:
            self._add(QUEUE, OPEN, {"open": -1})

    def suggested(self, prediction: Prediction, given: Label, day: date) -> None:
        """A public label that only suggests: it counts toward the public's agreement that day, and
        nowhere else (the comment's label, and so the version's cells, are unchanged)."""
        self._add(DAY, day.isoformat(), day_additions(prediction, given, LabelSource.PUBLIC))

    def _add(self, pk: str, sk: str, additions: Mapping[str, int | Decimal]) -> None:
        names = {f"#a{index}": name for index, name in enumerate(additions)}
        values = {f":a{index}": value for index, value in enumerate(additions.values())}
        try:
            self._table.update_item(
                Key={"pk": pk, "sk": sk},
                UpdateExpression="ADD " + ", ".join(f"#a{index} :a{index}" for index in range(len(additions))),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except (ClientError, BotoCoreError) as error:
            code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
            # Throttling or an unreachable table passes; anything else (AccessDenied: the role lacks the
            # table) is a deployment defect, logged as an error.
            log = logger.warning if code is None or code in TRANSIENT_CODES else logger.error
            log("a monitoring counter was not updated", extra={"pk": pk, "sk": sk, "error": str(error)})
            count("MonitoringNotCounted")

    # ---- reading ----

    def days(self, first: date, last: date) -> list[DayCounts]:
        """Every day from ``first`` to ``last``, days with nothing included."""
        with unavailable_when_transient("the monitoring table"):
            items = query_all(
                self._table,
                KeyConditionExpression=Key("pk").eq(DAY) & Key("sk").between(first.isoformat(), last.isoformat()),
            )
        found = {item["sk"]: item for item in items}
        days = []
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            days.append(_day(day, found.get(day.isoformat(), {})))
        return days

    def versions(self) -> list[VersionCounts]:
        with unavailable_when_transient("the monitoring table"):
            items = query_all(self._table, KeyConditionExpression=Key("pk").eq(VERSION))
        return [_version(item) for item in items]

    def queue_size(self) -> int:
        with unavailable_when_transient("the monitoring table"):
            item = self._table.get_item(Key={"pk": QUEUE, "sk": OPEN}).get("Item", {})
        return max(int(item.get("open", 0)), 0)


def _day(day: date, item: dict[str, Any]) -> DayCounts:
    return DayCounts(
        day=day,
        labels={label: int(item.get(f"label_{label}", 0)) for label in LABELS},
        confidence_sum=float(item.get("confidence_sum", 0)),
        confidence_bins=[int(item.get(f"bin_{index}", 0)) for index in range(BINS)],
        feedback=int(item.get("feedback", 0)),
        agreed=int(item.get("agreed", 0)),
        feedback_by_source={source: int(item.get(f"feedback_{source}", 0)) for source in LabelSource},
        agreed_by_source={source: int(item.get(f"agreed_{source}", 0)) for source in LabelSource},
    )


def day_additions(prediction: Prediction, given: Label, source: LabelSource) -> dict[str, int]:
    """What one label adds to its day: to the feedback in all and to its source's."""
    agreed = int(given == prediction.label)
    return {"feedback": 1, "agreed": agreed, f"feedback_{source}": 1, f"agreed_{source}": agreed}


def _version(item: dict[str, Any]) -> VersionCounts:
    matrix = {
        predicted: {given: int(item.get(f"cell_{predicted}_{given}", 0)) for given in LABELS} for predicted in LABELS
    }
    return VersionCounts(version=item["sk"], matrix=matrix)
