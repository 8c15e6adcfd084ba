"""The web page in a real browser (headless Chromium driven by Playwright) on ``make up``: a person
posts a comment and sees the result, corrects it, browses and filters what was said, watches the
model panel, and is told plainly when the API is gone. Screenshots are kept under
``build/test-artifacts/``."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from sentiment_template.reader import Template
from tests.conftest import ROOT
from tests.system.conftest import LocalStack, labelled_rows, module_stack, wait_for_run

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")  # Debian's package; the Makefile installs it
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "build" / "test-artifacts"
PHONE = {"width": 390, "height": 844}
PAGE_SIZE = 10  # the page's own page size for recent comments
WAIT_MS = 20_000
LABELS = ("negative", "neutral", "positive")
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
JOB_WAIT_MS = 300_000  # a bulk job's rows, on a busy machine
NEEDS_ADMIN_KEY = "Classifying a file needs the admin key: enter it under The model, then start."
expect.set_options(timeout=WAIT_MS)  # a busy machine may take more than Playwright's 5 s


local_stack = module_stack("web-page", RETRAIN_THRESHOLD="1000000", PUBLIC_LABELS="train")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield chromium
    chromium.close()


class Watched:
    """A page, and whatever it let slip: script errors, dialogs, failed loads of its own assets."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))


@pytest.fixture
def watched(browser: Browser, local_stack: LocalStack) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=local_stack.api)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto("/")
    expect(page.get_by_test_id("health")).to_have_attribute("data-state", "ok")
    yield Watched(page)
    context.close()


def _post(page: Page, text: str) -> None:
    page.get_by_test_id("comment-input").fill(text)
    page.get_by_test_id("comment-submit").click()


def _newest_item(page: Page) -> Any:
    return page.get_by_test_id("comment-list").locator("li").first


def _percent(share: float) -> str:
    """As the page writes a share: one decimal at most, none when it is whole (0.87 → "87%")."""
    return f"{round(share * 1000) / 10:g}%"


def _accessibility_problems(page: Page) -> str:
    """axe-core's WCAG 2.1 A/AA and best-practice checks on the page as it is: contrast, labels,
    landmarks, keyboard reach. Empty when there is nothing to report."""
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_RULES}})
    return "" if results.violations_count == 0 else results.generate_report()


def _all_comments(api: httpx.Client, sentiment: str | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        params = {
            "limit": 100,
            **({"sentiment": sentiment} if sentiment else {}),
            **({"next_token": token} if token else {}),
        }
        page = api.get("/comments", params=params).json()
        items += page["items"]
        token = page["next_token"]
        if not token:
            return items


def test_a_comment_is_classified_and_shown_with_its_scores(watched: Watched, api: httpx.Client) -> None:
    page = watched.page
    text = "The support team fixed it in minutes. Brilliant!"

    page.get_by_test_id("comment-input").fill(text)
    expect(page.get_by_test_id("comment-counter")).to_have_text(f"{len(text)} / 5000")
    page.get_by_test_id("comment-submit").click()

    expect(page.get_by_test_id("result-label")).to_have_text("positive")
    stored = _all_comments(api)[0]
    assert stored["original_comment"] == text
    assert stored["sentiment"] == "positive"
    health = api.get("/health").json()["model"]
    served = health["model_version"]
    expect(page.get_by_test_id("result-model")).to_have_text(served)
    expect(page.get_by_test_id("health")).to_contain_text(f"{served} ({health['kind']} {health['encoder']['name']})")
    expect(page.get_by_test_id("result-confidence")).to_have_text(f"{_percent(stored['confidence'])} confident")
    bars = page.get_by_test_id("result-scores").get_by_role("meter")
    expect(bars).to_have_count(3)
    for label in LABELS:
        meter = page.get_by_role("meter", name=f"{label} probability")
        expect(meter).to_have_attribute("aria-valuenow", str(round(stored["scores"][label] * 100)))
    expect(page.get_by_test_id("comment-input")).to_have_value("")  # sent, so the box is cleared

    newest = _newest_item(page)
    expect(newest.get_by_test_id("item-text")).to_have_text(text)
    expect(newest.get_by_test_id("item-label")).to_have_text("positive")
    legend = page.get_by_test_id("sentiment-distribution").locator("li[data-kind] strong")
    expect(legend).to_have_text([str(sum(c["sentiment"] == label for c in _all_comments(api))) for label in LABELS])
    assert _accessibility_problems(page) == ""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "web-page.png", full_page=True)
    assert watched.errors == []


def test_feedback_is_recorded_and_shown(watched: Watched, api: httpx.Client, local_stack: LocalStack) -> None:
    page = watched.page
    _post(page, "The parcel came on Tuesday.")
    expect(page.get_by_test_id("result-label")).not_to_be_empty()
    comment = _all_comments(api)[0]
    correction = "positive" if comment["sentiment"] != "positive" else "negative"

    page.get_by_test_id(f"feedback-{correction}").click()

    expect(page.get_by_test_id("feedback-status")).to_have_text(f"Recorded: corrected to {correction}. Thank you.")
    expect(page.get_by_test_id(f"feedback-{correction}")).to_have_attribute("aria-pressed", "true")
    assert api.get(f"/comments/{comment['comment_id']}").json()["feedback"]["label"] == correction
    expect(_newest_item(page).get_by_test_id("item-feedback")).to_have_text(f"corrected to {correction}")
    bucket = Template.read(ROOT / "template.yaml").physical_name("DataBucket")
    s3 = local_stack.client("s3")
    bodies = [
        s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
        for item in s3.list_objects_v2(Bucket=bucket, Prefix="feedback/")["Contents"]
    ]
    assert sum(comment["comment_id"] in body for body in bodies) == 1

    # the same page confirms a label on a listed comment
    newest = _newest_item(page)
    newest.get_by_test_id(f"item-feedback-{comment['sentiment']}").click()
    expect(newest.get_by_test_id("item-feedback")).to_have_text(f"confirmed {comment['sentiment']}")
    assert api.get(f"/comments/{comment['comment_id']}").json()["feedback"]["label"] == comment["sentiment"]
    assert watched.errors == []


def test_comments_filter_by_sentiment_and_load_page_by_page(watched: Watched, api: httpx.Client) -> None:
    texts = [
        f"Review {n}: " + ("an awful, broken mess" if n % 2 else "a wonderful, delightful film") for n in range(24)
    ]
    assert api.post("/comments/batch", json={"comments": texts}).status_code == 200
    page = watched.page
    page.reload()
    listed = page.get_by_test_id("comment-list").locator("li")

    everything = _all_comments(api)
    expect(listed).to_have_count(PAGE_SIZE)
    shown = PAGE_SIZE
    while shown < len(everything):
        page.get_by_test_id("load-more").click()
        shown = min(shown + PAGE_SIZE, len(everything))
        expect(listed).to_have_count(shown)
    expect(page.get_by_test_id("load-more")).to_be_hidden()
    ids = listed.evaluate_all("items => items.map(item => item.dataset.commentId)")
    assert ids == [comment["comment_id"] for comment in everything]  # all of them, newest first, none twice
    intervals = page.get_by_test_id("sentiment-timeline").locator("g > title").all_text_contents()
    drawn = Counter[str]()
    for interval in intervals:
        drawn.update({label: int(count) for count, label in re.findall(r"(\d+) (\w+)", interval.split(": ", 1)[1])})
    assert drawn == Counter(comment["sentiment"] for comment in everything)  # every comment in the picture, once

    negatives = _all_comments(api, "negative")
    assert negatives, "the batch holds clearly negative reviews"
    page.get_by_test_id("filter-negative").check()
    expect(listed).to_have_count(min(PAGE_SIZE, len(negatives)))
    expect(listed.get_by_test_id("item-label")).to_have_text(["negative"] * min(PAGE_SIZE, len(negatives)))
    while page.get_by_test_id("load-more").is_visible():
        before = listed.count()
        page.get_by_test_id("load-more").click()
        expect(listed).not_to_have_count(before)
    assert listed.evaluate_all("items => items.map(item => item.dataset.commentId)") == [
        comment["comment_id"] for comment in negatives
    ]

    page.get_by_test_id("filter-pending").check()
    expect(listed).to_have_count(0)
    expect(page.get_by_test_id("comments-status")).to_have_text("No pending comments yet.")
    assert watched.errors == []


def test_markup_in_a_comment_is_shown_as_text_and_never_run(watched: Watched, api: httpx.Client) -> None:
    page = watched.page
    payload = (
        '<img src="x" onerror="window.__injected = \'img\'; alert(1)">'
        "<script>window.__injected = 'script'; alert(2)</script><b>bold?</b> & <i>so what</i>"
    )
    _post(page, payload)
    expect(page.get_by_test_id("result-label")).not_to_be_empty()

    newest = _newest_item(page)
    expect(newest.get_by_test_id("item-text")).to_have_text(payload)
    assert newest.get_by_test_id("item-text").evaluate("node => node.children.length") == 0
    assert page.get_by_test_id("comment-list").locator("img, script, b, i").count() == 0
    page.reload()  # and again when the list comes from the API
    expect(_newest_item(page).get_by_test_id("item-text")).to_have_text(payload)
    assert page.evaluate("() => window.__injected") is None
    assert watched.dialogs == []
    assert _all_comments(api)[0]["original_comment"] == payload


def test_bad_input_is_explained_and_nothing_is_sent(watched: Watched, api: httpx.Client) -> None:
    page = watched.page
    before = len(_all_comments(api))

    _post(page, "   \n  ")
    expect(page.get_by_test_id("comment-error")).to_have_text(
        "Write a comment first: it cannot be empty or only spaces."
    )
    expect(page.get_by_test_id("comment-input")).to_have_attribute("aria-invalid", "true")

    page.get_by_test_id("comment-input").fill("x" * 6000)  # the box stops at the limit
    expect(page.get_by_test_id("comment-counter")).to_have_text("5000 / 5000")
    assert len(_all_comments(api)) == before
    assert watched.errors == []


def test_the_page_works_from_the_keyboard_on_a_phone(browser: Browser, local_stack: LocalStack) -> None:
    context = browser.new_context(viewport=PHONE, base_url=local_stack.api, is_mobile=True, has_touch=True)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto("/")
    expect(page.get_by_test_id("health")).to_have_attribute("data-state", "ok")

    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.get_by_role("link", name="Skip to the comment box")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("comment-input")).to_be_focused()
    page.keyboard.type("Terrible. It broke on the first day and nobody answers.")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("result-label")).to_have_text("negative")

    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]  # nothing to scroll sideways
    for test_id in (
        "comment-input",
        "comment-submit",
        "feedback-negative",
        "feedback-neutral",
        "feedback-positive",
        "file-input",
        "file-text-field",
        "file-start",
    ):
        box = page.get_by_test_id(test_id).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], test_id
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, textarea, button')].filter(
            control => !control.labels?.length && !control.getAttribute('aria-label') && !control.textContent.trim()
        ).map(control => control.outerHTML)"""
    )
    assert unlabelled == []
    assert _accessibility_problems(page) == ""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "web-page-phone.png", full_page=True)
    context.close()


def test_the_model_panel_starts_a_run_and_rolls_back(
    watched: Watched, api: httpx.Client, local_stack: LocalStack
) -> None:
    page = watched.page
    first = api.get("/models").json()["champion"]
    expect(page.get_by_test_id("champion-version")).to_have_text(first)
    expect(page.get_by_test_id("champion-kind")).to_have_text(" (encoder minilm-sentiment)")
    expect(page.get_by_test_id("start-run")).to_be_disabled()  # no key yet

    page.get_by_test_id("admin-key").fill("not-the-key")
    page.locator("#admin-save").click()
    page.get_by_test_id("start-run").click()
    expect(page.get_by_test_id("admin-status")).to_contain_text("The admin key was refused (403)")
    assert api.get("/training").json()["items"] == []

    page.get_by_test_id("admin-key").fill((local_stack.data / "admin-api-key").read_text().strip())
    page.locator("#admin-save").click()
    page.get_by_test_id("start-run").click()
    expect(page.get_by_test_id("admin-status")).to_contain_text("Started run-")
    run_id = api.get("/training").json()["items"][0]["run_id"]
    run_row = page.get_by_test_id("runs").locator(f"tr[data-run-id='{run_id}']")
    expect(run_row).to_be_visible()
    run = wait_for_run(api, run_id)
    assert run["status"] == "SUCCEEDED"
    expect(run_row).to_contain_text(run["decision"], timeout=30_000)  # the panel follows the run by itself

    models = api.get("/models").json()
    other = next(model["version"] for model in models["items"] if model["version"] != models["champion"])
    page.get_by_test_id(f"promote-{other}").click()
    expect(page.get_by_test_id("admin-status")).to_contain_text(f"Deploying {other} in run-")
    rollback = api.get("/training").json()["items"][0]
    assert rollback["trigger"] == "rollback"
    assert wait_for_run(api, rollback["run_id"])["status"] == "SUCCEEDED"
    expect(page.get_by_test_id("champion-version")).to_have_text(other, timeout=30_000)
    assert api.post("/comments", json={"comment": "which model now?"}).json()["model_version"] == other
    # the browser logs the refused key's answer; nothing else went wrong
    assert watched.errors == ["Failed to load resource: the server responded with a status of 403 (FORBIDDEN)"]


def test_the_model_panel_says_what_feedback_waits_and_why_a_due_run_is_held_back(
    watched: Watched, api: httpx.Client, local_stack: LocalStack
) -> None:
    # Given feedback waiting, and a due run the guard held back (as the feedback trigger records it)
    page = watched.page
    table = local_stack.client("dynamodb")
    registry = Template.read(ROOT / "template.yaml", prefix="sentiment-local").physical_name("RegistryTable")
    key = {"pk": {"S": "PIPELINE"}, "sk": {"S": "STATE"}}
    held = {
        "reason": "the last run from feedback started at 2026-12-03T10:00:00+00:00; runs from feedback start at "
        "least 60 minutes apart (RetrainMinIntervalMinutes)",
        "at": "2026-12-03T10:20:00Z",
        "until": "2026-12-03T11:00:00Z",
    }
    table.update_item(
        TableName=registry,
        Key=key,
        UpdateExpression="SET held_back = :held, pending_feedback = :waiting",
        ExpressionAttributeValues={":held": {"S": json.dumps(held)}, ":waiting": {"N": "12"}},
    )
    try:
        assert api.get("/training").json()["held_back"]["reason"] == held["reason"]

        # When the page loads, then the panel says so, with the time the guard lets it start
        page.reload()
        queue = page.get_by_test_id("run-queue")
        expect(queue).to_contain_text(f"A run is held back: {held['reason']}")
        expect(queue).to_contain_text("starts it (12 feedback items waiting)")
        expect(queue.locator("time")).to_have_attribute("datetime", held["until"])
    finally:
        table.update_item(
            TableName=registry,
            Key=key,
            UpdateExpression="REMOVE held_back SET pending_feedback = :none",
            ExpressionAttributeValues={":none": {"N": "0"}},
        )
    page.reload()
    expect(page.get_by_test_id("run-queue")).to_be_hidden()
    assert watched.errors == []


def _admin_key(local_stack: LocalStack) -> str:
    return (local_stack.data / "admin-api-key").read_text().strip()


def _use_admin_key(page: Page, key: str) -> None:
    """The key entered where the page asks for it, under The model."""
    page.get_by_test_id("admin-key").fill(key)
    page.locator("#admin-save").click()


def _csv_file(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _start_file(page: Page, source: Path, column: str, id_column: str = "") -> None:
    page.get_by_test_id("file-input").set_input_files(source)
    page.get_by_test_id("file-text-field").fill(column)
    page.get_by_test_id("file-id-field").fill(id_column)
    page.get_by_test_id("file-start").click()


def _jobs(api: httpx.Client, key: str) -> list[dict[str, Any]]:
    answer = api.get("/jobs", params={"limit": 100}, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_a_file_is_classified_with_its_progress_results_and_labels(
    watched: Watched, api: httpx.Client, local_stack: LocalStack, tmp_path: Path
) -> None:
    # Given an export of 36 tickets, one of them with no text, and the admin key entered
    page = watched.page
    texts = [text for text, _ in labelled_rows("reviews", 35, seed=21)]
    texts.insert(17, "")
    source = _csv_file(tmp_path / "tickets.csv", ["ticket", "comment"], [[f"T{n}", t] for n, t in enumerate(texts)])
    key = _admin_key(local_stack)
    _use_admin_key(page, key)
    expect(page.get_by_test_id("file-key")).to_be_empty()

    # When the user picks the file, names the column (and the one naming each row) and starts
    _start_file(page, source, "comment", "ticket")

    # Then the job runs to the end: the bar full, the counts said in words
    status = page.get_by_test_id("file-job-status")
    expect(status).to_have_attribute("data-status", "COMPLETED", timeout=JOB_WAIT_MS)
    expect(status).to_have_text("completed")
    progress = page.get_by_test_id("file-progress")
    expect(progress).to_have_js_property("max", 36)
    expect(progress).to_have_js_property("value", 36)
    expect(page.get_by_test_id("file-counts")).to_contain_text("36 of 36 rows done: 35 succeeded, 1 failed")
    job_id = page.get_by_test_id("file-job-id").inner_text()
    job = api.get(f"/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert (job["status"], job["total"], job["succeeded"], job["failed"]) == ("COMPLETED", 36, 35, 1)
    assert (job["format"], job["text_field"], job["id_field"]) == ("csv", "comment", "ticket")

    # and the results file behind the link holds every row once, in order, the empty one with its error
    link = page.get_by_test_id("file-download")
    expect(link).to_have_text("Download the results")
    with page.expect_download() as download:
        link.click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [row["id"] for row in rows] == [f"T{n}" for n in range(36)]
    assert [row["error"] for row in rows] == [""] * 17 + ["EMPTY_TEXT"] + [""] * 18
    labels = Counter(row["sentiment"] for row in rows if not row["error"])
    assert set(labels) <= set(LABELS)

    # and the picture's counts per label are the file's
    legend = page.get_by_test_id("file-chart").locator("li[data-kind]")
    expect(legend.locator("strong")).to_have_text([str(labels[label]) for label in LABELS] + ["1"])
    expect(legend.last).to_have_attribute("data-kind", "error")
    summary = ", ".join(f"{labels[label]} {label}" for label in LABELS)
    expect(page.get_by_test_id("file-chart").get_by_role("img")).to_have_attribute(
        "aria-label", f"Of the 36 rows: {summary}, 1 not classified (1 EMPTY_TEXT)."
    )
    assert _accessibility_problems(page) == ""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.get_by_test_id("file-panel").screenshot(path=ARTIFACTS / "web-page-file.png")
    assert watched.errors == []


def test_the_file_panel_needs_the_admin_key_and_cancel_stops_its_job_until_resumed(
    watched: Watched, api: httpx.Client, local_stack: LocalStack, tmp_path: Path
) -> None:
    # Given no admin key in this tab, and a file of 3,000 tweets
    page = watched.page
    sent: list[str] = []
    page.on("request", lambda request: "/jobs" in request.url and sent.append(f"{request.method} {request.url}"))
    key = _admin_key(local_stack)
    before = len(_jobs(api, key))
    tweets = [[text] for text, _ in labelled_rows("tweets", 3000, seed=23)]
    source = _csv_file(tmp_path / "tweets.csv", ["text"], tweets)
    expect(page.get_by_test_id("file-key")).to_have_text(NEEDS_ADMIN_KEY)

    # When the user starts it, then the panel says a key is needed and sends nothing
    _start_file(page, source, "text")
    expect(page.get_by_test_id("file-error")).to_have_text(NEEDS_ADMIN_KEY)
    assert sent == []

    # When a wrong key is entered, then the job is refused, said so, and none is made
    _use_admin_key(page, "not-the-key")
    page.get_by_test_id("file-start").click()
    expect(page.get_by_test_id("file-error")).to_contain_text("Not started: The admin key was refused (403)")
    assert len(_jobs(api, key)) == before

    # When the right key is entered and the job is cancelled once some rows are done
    _use_admin_key(page, key)
    page.get_by_test_id("file-start").click()
    expect(page.get_by_test_id("file-counts")).to_contain_text(re.compile(r"[1-9][\d,]* of 3,000 rows done"))
    page.get_by_test_id("file-cancel").click()

    # Then it stops: STOPPED shown, the rows done so far downloadable, and Resume offered
    status = page.get_by_test_id("file-job-status")
    expect(status).to_have_attribute("data-status", "STOPPED", timeout=JOB_WAIT_MS)
    expect(status).to_have_text("stopped")
    expect(page.get_by_test_id("file-cancel")).to_be_hidden()
    expect(page.get_by_test_id("file-resume")).to_be_visible()
    expect(page.get_by_test_id("file-download")).to_have_text("Download the results so far")
    job_id = page.get_by_test_id("file-job-id").inner_text()
    job = api.get(f"/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert job["status"] == "STOPPED" and 0 < job["succeeded"] < 3000, job
    expect(page.get_by_test_id("file-counts")).to_have_text(
        f"{job['succeeded']:,} of 3,000 rows classified; {job['failed']:,} failed or not reached."
    )

    # When it is resumed, then the rest runs and the job completes with every row classified
    page.get_by_test_id("file-resume").click()
    expect(status).to_have_attribute("data-status", "COMPLETED", timeout=JOB_WAIT_MS)
    expect(page.get_by_test_id("file-counts")).to_contain_text("3,000 of 3,000 rows done: 3,000 succeeded, 0 failed")
    expect(page.get_by_test_id("file-download")).to_have_text("Download the results")
    assert len(_jobs(api, key)) == before + 1
    # the browser logs the refused key's answer; nothing else went wrong
    assert watched.errors == ["Failed to load resource: the server responded with a status of 403 (FORBIDDEN)"]


def test_a_json_lines_file_whose_name_does_not_say_its_format_is_classified_once_it_is_chosen(
    watched: Watched, local_stack: LocalStack, tmp_path: Path
) -> None:
    # Given a JSON Lines dump of 12 reviews saved as .txt, and the admin key entered
    page = watched.page
    sent: list[str] = []
    page.on("request", lambda request: "/jobs" in request.url and sent.append(f"{request.method} {request.url}"))
    source = tmp_path / "reviews.txt"
    texts = [text for text, _ in labelled_rows("reviews", 12, seed=29)]
    source.write_text("".join(json.dumps({"review": text}) + "\n" for text in texts))
    _use_admin_key(page, _admin_key(local_stack))

    # When the user starts it as it is, then the panel asks for its format and sends nothing
    _start_file(page, source, "review")
    expect(page.get_by_test_id("file-error")).to_have_text(
        "Choose the format: the name “reviews.txt” does not say (.csv or .jsonl)."
    )
    expect(page.get_by_test_id("file-format")).to_be_focused()
    assert sent == []

    # When JSON Lines is chosen, then it runs, and its results are JSON lines numbered from 0, in order
    page.get_by_test_id("file-format").select_option("jsonl")
    expect(page.get_by_test_id("file-error")).to_be_hidden()
    page.get_by_test_id("file-start").click()
    expect(page.get_by_test_id("file-job-status")).to_have_attribute("data-status", "COMPLETED", timeout=JOB_WAIT_MS)
    expect(page.get_by_test_id("file-counts")).to_contain_text("12 of 12 rows done: 12 succeeded, 0 failed")
    with page.expect_download() as download:
        page.get_by_test_id("file-download").click()
    lines = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines()]
    assert [line["id"] for line in lines] == list(range(12))
    assert all(line["sentiment"] in LABELS and not line["error"] for line in lines)
    assert watched.errors == []


def _queue(api: httpx.Client) -> list[dict[str, Any]]:
    body = api.get("/comments", params={"needs_review": "true", "limit": 100}).json()
    items: list[dict[str, Any]] = body["items"]
    return items


def _tab_to(page: Page, test_id: str, presses: int = 80) -> None:
    """Tab through the page, as a keyboard user does, until ``test_id`` has the focus."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(id) => document.activeElement?.dataset.testid === id", test_id):
            return
    raise AssertionError(f"{test_id} is not reachable with Tab")


def _reviewer_key(api: httpx.Client, local_stack: LocalStack, name: str) -> str:
    """A key an admin issues for a new reviewer ``name``."""
    admin = (local_stack.data / "admin-api-key").read_text().strip()
    created = api.post("/reviewers", json={"name": name}, headers={"Authorization": f"Bearer {admin}"})
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


def _stored_feedback(local_stack: LocalStack) -> list[dict[str, Any]]:
    bucket = Template.read(ROOT / "template.yaml", prefix="sentiment-local").physical_name("DataBucket")
    s3 = local_stack.client("s3")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="feedback/").get("Contents", [])]
    return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys]


def test_the_review_view_labels_the_most_uncertain_comments_by_keyboard_alone(
    watched: Watched, api: httpx.Client, local_stack: LocalStack
) -> None:
    page = watched.page
    texts = ["It is a phone.", "Not sure how I feel about it", "Great, another update", "Well, that happened"]
    api.post("/comments/batch", json={"comments": [f"{text} ({n})" for n, text in enumerate(texts * 2)]})
    queue = _queue(api)
    page.locator("#refresh-review").press("Enter")
    expect(page.get_by_test_id("review-text")).to_have_text(queue[0]["original_comment"])
    left = api.get("/comments", params={"needs_review": "true", "limit": 1}).json()["remaining"]
    expect(page.get_by_test_id("review-left")).to_have_text(f"{left} comments wait for a label.")

    _tab_to(page, "reviewer-key")  # the reviewer's key, typed and kept with Enter
    page.keyboard.type(_reviewer_key(api, local_stack, "keyboard-kim"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("review-status")).to_have_text("Reviewer key kept for this tab.")
    _tab_to(page, "review-item")
    page.keyboard.press("3")  # positive, and on to the next
    expect(page.get_by_test_id("review-text")).to_have_text(queue[1]["original_comment"])
    page.keyboard.press("1")  # negative
    expect(page.get_by_test_id("review-text")).to_have_text(queue[2]["original_comment"])
    page.keyboard.press("s")  # skipped: stays in the queue
    expect(page.get_by_test_id("review-text")).to_have_text(queue[3]["original_comment"])
    page.keyboard.press("w")  # why

    expect(page.get_by_test_id("review-left")).to_have_text(f"{left - 2} comments wait for a label.")
    assert api.get(f"/comments/{queue[0]['comment_id']}").json()["feedback"]["label"] == "positive"
    assert api.get(f"/comments/{queue[1]['comment_id']}").json()["feedback"]["label"] == "negative"
    assert api.get(f"/comments/{queue[2]['comment_id']}").json()["feedback"] is None
    assert [item["comment_id"] for item in _queue(api)[:2]] == [queue[2]["comment_id"], queue[3]["comment_id"]]
    explained = page.get_by_test_id("review-explanation")
    expect(explained.get_by_test_id("explained-text")).to_have_text(queue[3]["original_comment"])
    expect(explained.locator("mark").first).to_be_visible()
    expect(page.get_by_test_id("review-item")).to_be_focused()  # the keys keep working
    assert _accessibility_problems(page) == ""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.get_by_test_id("review").screenshot(path=ARTIFACTS / "web-page-review.png")
    assert watched.errors == []


def test_the_review_panel_labels_only_with_a_reviewer_key_and_under_that_name(
    watched: Watched, api: httpx.Client, local_stack: LocalStack
) -> None:
    # Given a comment waiting for review, and no reviewer key in this tab
    page = watched.page
    api.post("/comments", json={"comment": "Could be better, could be worse (key test)"})
    page.locator("#refresh-review").click()
    expect(page.get_by_test_id("review-item")).to_be_visible()
    shown = page.get_by_test_id("review-text").inner_text()
    comment_id = next(item["comment_id"] for item in _queue(api) if item["original_comment"] == shown)

    # Then the panel says a key is needed, and labelling is off
    expect(page.get_by_test_id("reviewer-hint")).to_have_text(re.compile("A reviewer key is needed"))
    expect(page.get_by_test_id("review-negative")).to_be_disabled()

    # When a revoked key is entered, then the label is refused and nothing is stored
    revoked = _reviewer_key(api, local_stack, "page-revoked")
    admin = {"Authorization": f"Bearer {(local_stack.data / 'admin-api-key').read_text().strip()}"}
    assert api.delete("/reviewers/page-revoked", headers=admin).status_code == 200
    page.get_by_test_id("reviewer-key").fill(revoked)
    page.get_by_test_id("reviewer-save").click()
    page.get_by_test_id("review-negative").click()
    expect(page.get_by_test_id("review-status")).to_contain_text("the reviewer key was refused (403)")
    assert api.get(f"/comments/{comment_id}").json()["feedback"] is None

    # When an active reviewer's key is entered, then the label is recorded under their name
    page.get_by_test_id("reviewer-key").fill(_reviewer_key(api, local_stack, "page-pat"))
    page.get_by_test_id("reviewer-save").click()
    page.get_by_test_id("review-negative").click()
    expect(page.get_by_test_id("review-status")).to_contain_text("Recorded")
    assert api.get(f"/comments/{comment_id}").json()["feedback"]["label"] == "negative"
    mine = [record for record in _stored_feedback(local_stack) if record["comment_id"] == comment_id]
    assert [(record["source"], record["reviewer"]) for record in mine] == [("reviewer", "page-pat")]
    assert page.evaluate("() => sessionStorage.getItem('sentiment-reviewer-key')").startswith("rvw_")
    assert _accessibility_problems(page) == ""
    # the browser logs the revoked key's answer; nothing else went wrong
    assert watched.errors == ["Failed to load resource: the server responded with a status of 403 (FORBIDDEN)"]


def test_a_result_says_why_on_demand(watched: Watched) -> None:
    page = watched.page
    _post(page, "Worst airline ever, they lost my bag")
    expect(page.get_by_test_id("result-label")).to_have_text("negative")

    page.get_by_test_id("result-why").click()

    explained = page.get_by_test_id("result-explanation")
    expect(explained.get_by_test_id("explained-text")).to_have_text("Worst airline ever, they lost my bag")
    weights = [float(w) for w in explained.locator("mark").evaluate_all("marks => marks.map(m => m.dataset.weight)")]
    assert len(weights) == 8
    top = explained.locator("mark").nth(weights.index(max(weights)))
    assert top.inner_text() in {"Worst", "lost"}
    expect(explained.get_by_test_id("explanation-summary")).to_contain_text(f"“{top.inner_text()}”")
    assert watched.errors == []


def _by_source(name: str, figures: dict[str, Any]) -> str:
    if not figures["count"]:
        return f"{name}: no labels."
    labels = "1 label" if figures["count"] == 1 else f"{figures['count']} labels"
    return f"{name}: {labels}, {_percent(figures['agreement'])} confirming the model."


def test_how_well_it_does_draws_agreement_over_time_and_drift(watched: Watched, api: httpx.Client) -> None:
    page = watched.page
    rows = labelled_rows("tweets", 60, seed=11)
    created = []
    for start in range(0, len(rows), 25):
        created += api.post(
            "/comments/batch", json={"comments": [text for text, _ in rows[start : start + 25]]}
        ).json()["results"]
    for comment, (_, label) in list(zip(created, rows, strict=True))[:10]:
        assert api.post("/feedback", json={"comment_id": comment["comment_id"], "label": label}).status_code == 201
    report = api.get("/monitoring", params={"days": 30}).json()

    page.locator("#refresh-quality").click()

    today = report["daily"][-1]
    point = page.get_by_test_id("agreement-chart").locator(f"circle[data-date='{today['date']}']")
    expect(point).to_have_count(1)
    expect(point.locator("title")).to_contain_text(f"{_percent(today['agreement'])} of {today['feedback']} labels")
    # The review panel's tests label as reviewers on the same stack: each source is read apart
    expect(page.get_by_test_id("agreement-sources")).to_have_text(
        f"{_by_source('The public', report['agreement_by_source']['public'])} "
        f"{_by_source('Reviewers', report['agreement_by_source']['reviewer'])}"
    )
    drift = report["drift"]
    assert drift["psi"] is not None
    expect(page.get_by_test_id("drift-summary")).to_contain_text(f"PSI {drift['psi']:.3f}")
    expect(page.get_by_test_id("drift-chart").locator("figure")).to_have_count(2)
    expect(page.get_by_test_id("drift-chart").locator("rect.bar-recent")).to_have_count(3 + 7)
    champion = page.get_by_test_id("quality-versions").locator(f"tr[data-version='{report['champion']}']")
    agreement = report["versions"][0]["agreement"]
    expect(champion).to_contain_text(_percent(agreement) if agreement is not None else "–")
    assert _accessibility_problems(page) == ""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.get_by_test_id("quality").screenshot(path=ARTIFACTS / "web-page-quality.png")
    assert watched.errors == []


def test_a_comment_in_a_language_the_model_was_not_trained_for_is_shown_as_a_guess(
    watched: Watched, api: httpx.Client
) -> None:
    page = watched.page
    german = "Das ist das schlechteste Handy, das ich je hatte."

    _post(page, german)

    note = page.get_by_test_id("result-language")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Written in German (de): the model was trained on English only")
    expect(page.get_by_test_id("result-label")).to_have_class(re.compile(r"\bbadge-guess\b"))
    newest = _newest_item(page)
    expect(newest.get_by_test_id("item-text")).to_have_text(german)
    expect(newest.get_by_test_id("item-language")).to_have_text("German (de) · not supported")
    expect(newest.get_by_test_id("item-label")).to_have_class(re.compile(r"\bbadge-guess\b"))
    stored = next(c for c in _all_comments(api) if c["original_comment"] == german)
    assert (stored["language"], stored["supported"]) == ("de", False)
    # The split by label leaves the guess out.
    legend = page.get_by_test_id("sentiment-distribution").locator("li[data-kind] strong")
    read = [c for c in _all_comments(api)[:100] if c["supported"] is not False]
    expect(legend).to_have_text([str(sum(c["sentiment"] == label for c in read)) for label in LABELS])
    page.locator("#refresh-quality").click()
    unsupported = Counter()
    for day in api.get("/monitoring", params={"days": 30}).json()["daily"]:
        unsupported.update(day["unsupported"])
    expect(page.get_by_test_id("quality-languages")).to_contain_text(f"German (de) {unsupported['de']}")
    assert unsupported["de"] >= 1
    assert _accessibility_problems(page) == ""

    _post(page, "Lovely staff, thank you so much")  # English again: no mark
    expect(page.get_by_test_id("result-label")).not_to_have_class(re.compile(r"\bbadge-guess\b"))
    expect(note).to_be_hidden()
    expect(_newest_item(page).get_by_test_id("item-text")).to_have_text("Lovely staff, thank you so much")
    expect(_newest_item(page).get_by_test_id("item-language")).to_have_count(0)
    assert watched.errors == []


def test_when_the_api_is_down_the_page_says_so_and_recovers(watched: Watched, local_stack: LocalStack) -> None:
    page = watched.page
    text = "Written while the API was down"
    local_stack.stop(signal.SIGINT)
    try:
        _post(page, text)
        expect(page.get_by_test_id("comment-error")).to_contain_text("Not sent: the API cannot be reached")
        expect(page.get_by_test_id("api-banner")).to_be_visible()
        expect(page.get_by_test_id("api-banner")).to_contain_text("The API cannot be reached")
        expect(page.get_by_test_id("health")).to_have_attribute("data-state", "down")
        expect(page.get_by_test_id("comment-input")).to_have_value(text)  # nothing typed is lost
        expect(page.get_by_test_id("comment-submit")).to_be_enabled()  # and nothing is stuck
        assert _accessibility_problems(page) == ""  # the warnings are readable too
    finally:
        local_stack.start()

    expect(page.get_by_test_id("api-banner")).to_be_hidden(timeout=30_000)  # it notices by itself
    expect(page.get_by_test_id("health")).to_have_attribute("data-state", "ok")
    page.get_by_test_id("comment-submit").click()
    expect(page.get_by_test_id("result-label")).not_to_be_empty()
    expect(_newest_item(page).get_by_test_id("item-text")).to_have_text(text)
    with httpx.Client(base_url=local_stack.api, timeout=30) as client:
        assert sum(c["original_comment"] == text for c in _all_comments(client)) == 1
