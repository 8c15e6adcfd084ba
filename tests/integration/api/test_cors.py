"""The function's own CORS headers let in the one origin ALLOWED_ORIGIN names, read on first use."""

from __future__ import annotations

import pytest

from sentiment_common.dependencies import reset
from tests.integration.api.conftest import Stack

PAGE = "https://page.example"


def test_only_the_allowed_origin_is_let_in(api: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_ORIGIN", PAGE)
    reset()
    try:
        allowed = api.call("GET", "/health", headers={"Origin": PAGE})
        elsewhere = api.call("GET", "/health", headers={"Origin": "https://elsewhere.example"})
    finally:
        monkeypatch.undo()
        reset()

    assert allowed.status == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == PAGE
    assert "Access-Control-Max-Age" in allowed.headers
    assert elsewhere.status == 200
    assert not [name for name in elsewhere.headers if name.lower().startswith("access-control-")]
