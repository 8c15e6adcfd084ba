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

from datetime import date, timedelta

from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

from sentiment_common.dal.aws import TableAdapter
from sentiment_common.dal.table import query_all
from sentiment_common.dal.transient import TRANSIENT_CODES, unavailable_when_transient
from sentiment_common.monitoring import (
    DAY,
    OPEN,
    QUEUE,
    VERSION,
    Additions,
    CountingRules,
    DayCounts,
    VersionCounts,
    day_counts,
    version_counts,
)
from sentiment_common.observability import count, logger


class DynamoDbMonitoringCounters(CountingRules, TableAdapter):
    # ---- counting (the rules are CountingRules'): never fails the request ----

    def _add(self, pk: str, sk: str, additions: Additions) -> None:
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
            days.append(day_counts(day, found.get(day.isoformat(), {})))
        return days

    def versions(self) -> list[VersionCounts]:
        with unavailable_when_transient("the monitoring table"):
            items = query_all(self._table, KeyConditionExpression=Key("pk").eq(VERSION))
        return [version_counts(item["sk"], item) for item in items]

    def queue_size(self) -> int:
        with unavailable_when_transient("the monitoring table"):
            item = self._table.get_item(Key={"pk": QUEUE, "sk": OPEN}).get("Item", {})
        return max(int(item.get("open", 0)), 0)
