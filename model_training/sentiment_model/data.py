"""Loading labelled data: base CSVs, the golden split, and human feedback.

Layout of a training channel (``SM_CHANNEL_TRAIN``, or ``model_training/data`` locally)::

    base/<source>.csv     text,label[,confidence][,movie]   trained on
    golden/<source>.csv   same columns                      evaluated on, never trained on

The feedback channel (``SM_CHANNEL_FEEDBACK``) holds the objects the API writes under
``feedback/``: one JSON object per file (``*.json``) or one per line (``*.jsonl``).

Bad rows (no text, unknown label, unreadable JSON) are counted, logged and skipped: one bad
row must never stop a retraining run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment_model.language import identify

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
GOLDEN_BUCKETS = 5  # one group in five goes to the golden split
FEEDBACK_HOLDOUT_BUCKETS = 5  # one feedback item in five is held out for evaluation

log = logging.getLogger(__name__)


def fold_text(text: str) -> str:
    """The identity of a text for de-duplication and splitting: case and spacing ignored."""
    return " ".join(text.lower().split())


def in_bucket_zero(key: str, buckets: int) -> bool:
    """A stable, platform-independent split: SHA-256 of the key, first 8 hex digits, modulo."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % buckets == 0


def golden_group(row: pd.Series) -> str:
    """Reviews are held out by whole movie (no movie leaks between train and golden); other
    rows by their folded text."""
    movie = row.get("movie")
    if isinstance(movie, str) and movie:
        return f"movie:{movie}"
    return f"text:{fold_text(str(row['text']))}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class SourceReport:
    """What one input file contributed: rows kept, rows skipped and why, label counts, hash."""

    rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "skipped": dict(sorted(self.skipped.items())),
            "labels": {label: self.labels.get(label, 0) for label in LABELS},
            "sha256": self.sha256,
        }


def clean_frame(frame: pd.DataFrame, origin: str) -> tuple[pd.DataFrame, SourceReport]:
    """Keep rows with a non-blank text and a known label; report the rest."""
    report = SourceReport()
    if "text" not in frame.columns or "label" not in frame.columns:
        raise ValueError(f"{origin}: needs 'text' and 'label' columns, has {list(frame.columns)}")
    text = frame["text"].astype("string").str.strip()
    label = frame["label"].astype("string").str.strip().str.lower()
    no_text = text.isna() | (text == "")
    bad_label = ~no_text & ~label.isin(LABELS)
    report.skipped.update({"no_text": int(no_text.sum()), "unknown_label": int(bad_label.sum())})
    report.skipped = +report.skipped  # drop zero counts
    keep = ~(no_text | bad_label)
    cleaned = frame.loc[keep].copy()
    cleaned["text"] = text[keep].astype(str)
    cleaned["label"] = label[keep].astype(str)
    if "confidence" in cleaned.columns:
        cleaned["confidence"] = pd.to_numeric(cleaned["confidence"], errors="coerce")
    report.rows = len(cleaned)
    report.labels.update(cleaned["label"].tolist())
    if report.skipped:
        log.warning("%s: skipped %s", origin, dict(report.skipped))
    return cleaned, report


def read_labelled_csv(path: Path) -> tuple[pd.DataFrame, SourceReport]:
    frame = pd.read_csv(path, dtype={"text": "string", "label": "string"}, keep_default_na=False, na_values=[""])
    cleaned, report = clean_frame(frame, str(path))
    report.sha256 = sha256_file(path)
    cleaned["source"] = path.stem
    return cleaned, report


def read_split(directory: Path) -> tuple[pd.DataFrame, dict[str, SourceReport]]:
    """Every ``*.csv`` of one split folder, concatenated, with one report per file."""
    paths = sorted(directory.glob("*.csv"))
    if not paths:
        raise FileNotFoundError(f"no CSV files in {directory}")
    frames, reports = [], {}
    for path in paths:
        frame, report = read_labelled_csv(path)
        frames.append(frame)
        reports[path.stem] = report
    return pd.concat(frames, ignore_index=True), reports


@dataclass
class Feedback:
    """Feedback after de-duplication, split into a training part and a hold-out part."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    report: SourceReport
    superseded: int = 0
    golden_overlap: int = 0
    unsupported_language: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.report.as_dict(),
            "train_rows": len(self.train),
            "holdout_rows": len(self.holdout),
            "superseded": self.superseded,
            "golden_overlap_excluded": self.golden_overlap,
            "unsupported_language_excluded": self.unsupported_language,
        }


def _feedback_records(directory: Path, report: SourceReport) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    digest = hashlib.sha256()
    paths = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in {".json", ".jsonl"})
    for path in paths:
        raw = path.read_bytes()
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + raw)
        lines = raw.splitlines() if path.suffix == ".jsonl" else [raw]
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                report.skipped["unreadable"] += 1
                log.warning("feedback %s: not valid UTF-8 JSON, skipped", path)
                continue
            if not isinstance(record, dict):
                report.skipped["not_an_object"] += 1
                continue
            records.append(record)
    report.sha256 = digest.hexdigest()
    return records


def read_feedback(directory: Path | None, golden_texts: set[str]) -> Feedback:
    """Feedback objects, latest label per comment (or per text when there is no comment id).

    Feedback whose text is in the golden split is dropped so the golden metrics stay honest.
    """
    report = SourceReport()
    empty = pd.DataFrame({column: pd.Series(dtype=str) for column in ("text", "label", "key", "created_at", "source")})
    if directory is None or not directory.exists():
        return Feedback(empty, empty.copy(), report)
    records = _feedback_records(directory, report)
    frame = pd.DataFrame.from_records(records) if records else empty.copy()
    for column in ("text", "label", "comment_id", "created_at", "source"):
        if column not in frame.columns:
            frame[column] = pd.NA
    cleaned, clean_report = clean_frame(frame, f"feedback in {directory}")
    report.skipped.update(clean_report.skipped)
    cleaned["key"] = [
        f"comment:{cid}" if isinstance(cid, str) and cid else f"text:{fold_text(text)}"
        for cid, text in zip(cleaned["comment_id"], cleaned["text"], strict=True)
    ]
    cleaned["created_at"] = cleaned["created_at"].astype("string").fillna("")
    # Records from before labels carried their source came from the public route.
    cleaned["source"] = cleaned["source"].astype("string").fillna("public")
    latest = cleaned.sort_values("created_at", kind="stable").drop_duplicates("key", keep="last")
    superseded = len(cleaned) - len(latest)
    in_golden = latest["text"].map(fold_text).isin(golden_texts)
    latest = latest.loc[~in_golden]
    # A label on a text in a language the model was not trained for teaches it nothing it can use, and
    # its answer there was only a guess: it is left out of training and of every figure the gate reads.
    readable = pd.Series([language.supported for language in identify(latest["text"].tolist())], index=latest.index)
    unsupported = int((~readable).sum())
    latest = latest.loc[readable]
    report.rows = len(latest)
    report.labels.update(latest["label"].tolist())
    held = latest["key"].map(lambda key: in_bucket_zero(key, FEEDBACK_HOLDOUT_BUCKETS))
    columns = ["text", "label", "key", "created_at", "source"]
    return Feedback(
        train=latest.loc[~held, columns].reset_index(drop=True),
        holdout=latest.loc[held, columns].reset_index(drop=True),
        report=report,
        superseded=superseded,
        golden_overlap=int(in_golden.sum()),
        unsupported_language=unsupported,
    )


def split_golden(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The documented rule: a row is golden when SHA-256 of its group (movie for reviews,
    folded text otherwise) falls in bucket 0 of 5. Returns (base, golden)."""
    golden = frame.apply(golden_group, axis=1).map(lambda key: in_bucket_zero(key, GOLDEN_BUCKETS))
    return frame.loc[~golden], frame.loc[golden]
