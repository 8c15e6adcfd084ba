from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def metrics_namespace(monkeypatch: pytest.MonkeyPatch, clean_metrics: None) -> Iterator[None]:
    """Logic run outside a handler emits its metrics into a namespace, as a function's template sets one."""
    from sentiment_common.observability import metrics  # noqa: PLC0415 - only the tests that ask need it

    monkeypatch.setattr(metrics, "namespace", "SentimentTests")
    yield
