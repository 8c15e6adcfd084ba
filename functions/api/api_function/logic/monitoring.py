"""Live quality and drift, from the counters the API keeps as comments are classified and labelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from api_function.services import Services
from sentiment_common.models import LabelSource, utc_now
from sentiment_common.monitoring import (
    DRIFT_WINDOW_DAYS,
    DayFigures,
    Drift,
    SourceAgreement,
    VersionCounts,
    VersionQuality,
    champion_drift,
    day_figures,
    source_agreement,
    version_quality,
)


@dataclass(frozen=True)
class Report:
    champion: str | None
    versions: list[VersionQuality]
    daily: list[DayFigures]
    drift: Drift | None
    review_queue: int
    agreement_by_source: dict[LabelSource, SourceAgreement]


def report(days: int, services: Services) -> Report:
    """The last ``days`` days, every version people have labelled predictions of (the champion first,
    then the newest), and the champion's drift over the window."""
    today = utc_now().date()
    counted = services.monitoring.days(today - timedelta(days=max(days, DRIFT_WINDOW_DAYS) - 1), today)
    champion = services.models.champion()
    counts = {item.version: item for item in services.monitoring.versions()}
    if champion is not None:
        counts.setdefault(champion.version, VersionCounts.empty(champion.version))
    # Versions begin with their creation time: by name, newest first.
    ordered = sorted(counts.values(), key=lambda item: item.version, reverse=True)
    ordered.sort(key=lambda item: champion is None or item.version != champion.version)
    return Report(
        champion=champion.version if champion else None,
        versions=[version_quality(item, champion is not None and item.version == champion.version) for item in ordered],
        daily=[day_figures(day) for day in counted[-days:]],
        drift=champion_drift(services.models, counted[-DRIFT_WINDOW_DAYS:]),
        review_queue=services.monitoring.queue_size(),
        agreement_by_source=source_agreement(counted[-days:]),
    )
