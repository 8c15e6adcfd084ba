"""docs/aws.md's table of what one anonymous client can cost in a day is recomputed here from the
template's defaults (the per-client and per-route limits, the retention, the API function's memory)
and the prices and per-request figures the page states, so neither can drift from the other."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from sentiment_template.reader import load
from tests.conftest import ROOT

PAGE = ROOT / "docs/aws.md"
SECTION = "## What one anonymous client can cost in a day"
WINDOWS_PER_DAY = 24 * 60 // 5  # AWS WAF's rate-based rules count requests per client IP over 5 minutes
SECONDS_PER_DAY = 86_400
MONTHS_PER_DAY = 12 / 365

# The per-client limits: the edge's AWS WAF rule (ClientRateLimit, ClientWriteRateLimit). Read from the
# template; these stand in while a template without the web ACL is read.
FALLBACK_CLIENT_LIMITS = {"ClientRateLimit": 600, "ClientWriteRateLimit": 60}

# us-east-1 list prices, as the page states them (each appears there, with its pricing page).
PRICES = {
    "cloudfront_per_million": 1.00,  # HTTPS requests, United States
    "cloudfront_per_gb_out": 0.085,
    "waf_per_million": 0.60,
    "http_api_per_million": 1.00,  # each 512 KB is a request
    "lambda_per_million": 0.20,
    "lambda_arm_per_gb_second": 0.0000133334,
    "dynamodb_per_million_wru": 0.625,
    "dynamodb_per_million_rru": 0.125,
    "dynamodb_per_gb_month": 0.25,
    "serverless_per_second_2048mb": 0.00004,
    "s3_per_thousand_puts": 0.005,
}


@dataclass(frozen=True)
class Route:
    """One request's use of each service, at its most expensive (the page's assumptions)."""

    name: str
    writes: bool  # counted against ClientWriteRateLimit (and the route's WriteRateLimit throttle)
    lambda_ms: int
    wru: int
    rru: int
    model_seconds: float
    s3_puts: int
    kb_out: int


ROUTES = (
    Route("POST /comments", True, lambda_ms=100, wru=33, rru=0, model_seconds=0.01, s3_puts=0, kb_out=6),
    Route("POST /comments/batch", True, lambda_ms=400, wru=886, rru=0, model_seconds=0.25, s3_puts=0, kb_out=133),
    Route("POST /feedback", True, lambda_ms=200, wru=31, rru=3, model_seconds=0, s3_puts=1, kb_out=1),
    Route(
        "GET /comments/{comment_id}/explanation, computed",
        True,
        lambda_ms=600,
        wru=10,
        rru=3,
        model_seconds=0.49,
        s3_puts=0,
        kb_out=12,
    ),
    Route(
        "GET /comments/{comment_id}/explanation, kept",
        True,
        lambda_ms=30,
        wru=0,
        rru=4,
        model_seconds=0,
        s3_puts=0,
        kb_out=12,
    ),
    Route("GET /comments", False, lambda_ms=150, wru=0, rru=67, model_seconds=0, s3_puts=0, kb_out=530),
    Route("GET /comments/{comment_id}", False, lambda_ms=30, wru=0, rru=2, model_seconds=0, s3_puts=0, kb_out=6),
    Route("GET /health", False, lambda_ms=20, wru=0, rru=1, model_seconds=0, s3_puts=0, kb_out=1),
)
# A comment of 5,000 characters as stored: the item and each of its three index copies.
KB_PER_COMMENT = 21.2
COMMENTS_PER_REQUEST = {"POST /comments": 1, "POST /comments/batch": 25}


def defaults() -> dict[str, Any]:
    document = load(ROOT / "template.yaml")
    values = {name: spec.get("Default") for name, spec in document["Parameters"].items()}
    for name, fallback in FALLBACK_CLIENT_LIMITS.items():
        values.setdefault(name, fallback)
    values["ApiMemoryMb"] = document["Globals"]["Function"]["MemorySize"]
    assert "MemorySize" not in document["Resources"]["ApiFunction"]["Properties"]  # the Globals' value applies
    return values


def requests_per_day(route: Route, limits: dict[str, Any]) -> int:
    """The per-client ceiling, or the route's own throttle (shared by all clients) if that is lower."""
    client = int(limits["ClientWriteRateLimit"] if route.writes else limits["ClientRateLimit"]) * WINDOWS_PER_DAY
    throttle = int(limits["WriteRateLimit"] if route.writes else limits["ApiRateLimit"]) * SECONDS_PER_DAY
    return min(client, throttle)


def cost_per_request(route: Route, memory_mb: int) -> float:
    p = PRICES
    edge = (p["cloudfront_per_million"] + p["waf_per_million"]) / 1e6 + route.kb_out / 1e6 * p["cloudfront_per_gb_out"]
    api = p["http_api_per_million"] / 1e6 * max(1, math.ceil(route.kb_out / 512))
    compute = p["lambda_per_million"] / 1e6 + route.lambda_ms / 1000 * memory_mb / 1024 * p["lambda_arm_per_gb_second"]
    storage = (route.wru * p["dynamodb_per_million_wru"] + route.rru * p["dynamodb_per_million_rru"]) / 1e6
    model = route.model_seconds * p["serverless_per_second_2048mb"]
    s3 = route.s3_puts * p["s3_per_thousand_puts"] / 1000
    return edge + api + compute + storage + model + s3


def expected_rows() -> dict[str, list[str]]:
    limits = defaults()
    rows = {}
    for route in ROUTES:
        count = requests_per_day(route, limits)
        rows[route.name] = [
            f"{count:,}",
            str(route.lambda_ms),
            str(route.wru),
            str(route.rru),
            f"{route.model_seconds:g}",
            str(route.s3_puts),
            str(route.kb_out),
            f"{count * cost_per_request(route, limits['ApiMemoryMb']):,.2f}",
        ]
    return rows


def section() -> str:
    text = PAGE.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end != -1 else len(text)]


def table_rows() -> dict[str, list[str]]:
    rows = {}
    for line in section().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 9:
            name = cells[0].replace("`", "")
            rows[name] = cells[1:]
    return rows


def test_the_page_states_each_price_it_counts_with() -> None:
    text = section()
    for name, price in PRICES.items():
        exact = f"${Decimal(str(price)).normalize():f}"
        cents = f"${price:.2f}" if price >= 0.01 else exact
        assert re.search(rf"{re.escape(exact)}(?![0-9])|{re.escape(cents)}(?![0-9])", text), name


def test_the_table_is_what_the_templates_defaults_and_the_stated_figures_give() -> None:
    assert table_rows() == expected_rows()


@pytest.mark.parametrize("write", [True, False])
def test_the_per_client_limit_binds_before_the_routes_shared_throttle(write: bool) -> None:
    """At the defaults one client cannot reach the route throttles, which every client shares."""
    limits = defaults()
    route = next(route for route in ROUTES if route.writes is write)
    client = int(limits["ClientWriteRateLimit" if write else "ClientRateLimit"]) * WINDOWS_PER_DAY
    assert requests_per_day(route, limits) == client


def test_the_worst_day_and_the_storage_it_leaves_are_what_the_page_says() -> None:
    """The client's writes all go to the batch route and the rest of its requests to GET /comments."""
    limits = defaults()
    by_name = {route.name: route for route in ROUTES}
    batch, listing = by_name["POST /comments/batch"], by_name["GET /comments"]
    writes = requests_per_day(batch, limits)
    reads = requests_per_day(listing, limits) - writes
    memory = limits["ApiMemoryMb"]
    worst = writes * cost_per_request(batch, memory) + reads * cost_per_request(listing, memory)
    comments = writes * COMMENTS_PER_REQUEST[batch.name]
    stored_gb = comments * KB_PER_COMMENT / 1e6
    retention_days = int(limits["CommentRetentionDays"])
    kept = stored_gb * PRICES["dynamodb_per_gb_month"] * MONTHS_PER_DAY * retention_days

    text = re.sub(r"\s+", " ", section())
    assert f"worst day: ${worst:,.2f}" in text
    assert f"{comments:,} comments, {stored_gb:,.2f} GB" in text
    assert f"${kept:,.2f} over the {retention_days} days" in text
