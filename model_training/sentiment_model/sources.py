"""Where the bundled training data comes from, the licence each source states, and what a data set keeps.

``model_training/data/sources.json`` names every bundled source: the file its rows are in, the licence
as its source states it and where it says so, and whether that licence forbids commercial use. The
tweets file merges six CrowdFlower sets with no column saying which; ``airline_tweets.txt`` lists the
rows of the airline set (the SHA-256 of each folded text, first 16 hex digits), made by
``scripts/airline_tweets.py`` from the file the tweets came from.

A *data set* is which of those rows a model is trained and evaluated on:

- ``all``: every bundled row (the default);
- ``commercial``: every row whose source's licence allows commercial use, i.e. without the airline
  tweets (CC BY-NC-SA 4.0). They leave the golden split too: using them to measure is using them.

Rows of a file no source names (a dataset uploaded through the API, feedback) are kept in every set:
their licence is whoever supplied them, and the card says so.

The provenance files are read from the bundled ``data`` folder, not from the training channel, which
holds only the CSVs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment_model.data import fold_text

PROVENANCE_DIR = Path(__file__).resolve().parent.parent / "data"
SOURCES_FILE = "sources.json"
AIRLINE_FILE = "airline_tweets.txt"
DATA_SETS = ("all", "commercial")
DEFAULT_DATA_SET = "all"
OTHER_DATA = "not a bundled source: its licence is whoever supplied the data"


def text_key(text: str) -> str:
    return hashlib.sha256(fold_text(text).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Source:
    name: str
    file: str  # the CSV's stem, e.g. "tweets"
    rows: str  # "all", "airline" or "not-airline"
    licence: str
    licence_stated: str
    package: str
    non_commercial: bool

    def card(self, rows: int) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": rows,
            "licence": self.licence,
            "licence_stated": self.licence_stated,
            "package": self.package,
            "non_commercial": self.non_commercial,
        }


@cache
def sources(folder: Path = PROVENANCE_DIR) -> tuple[Source, ...]:
    listed = json.loads((folder / SOURCES_FILE).read_text())["sources"]
    fields = Source.__dataclass_fields__
    return tuple(Source(**{key: value for key, value in entry.items() if key in fields}) for entry in listed)


@cache
def airline_keys(folder: Path = PROVENANCE_DIR) -> frozenset[str]:
    lines = (folder / AIRLINE_FILE).read_text().splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def source_of(frame: pd.DataFrame, folder: Path = PROVENANCE_DIR) -> pd.Series:
    """Each row's source name (from its file, the ``source`` column, and for tweets its text); rows of
    files no source names get an empty string."""
    names = pd.Series("", index=frame.index, dtype=object)
    airline = frame["text"].map(text_key).isin(airline_keys(folder))
    for source in sources(folder):
        in_file = frame["source"] == source.file
        wanted = {"all": in_file, "airline": in_file & airline, "not-airline": in_file & ~airline}[source.rows]
        names[wanted] = source.name
    return names


def select(frame: pd.DataFrame, data_set: str, folder: Path = PROVENANCE_DIR) -> pd.DataFrame:
    """The rows ``data_set`` keeps."""
    if data_set not in DATA_SETS:
        raise ValueError(f"unknown data set {data_set!r}: choose one of {', '.join(DATA_SETS)}")
    if data_set == DEFAULT_DATA_SET:
        return frame
    excluded = {source.name for source in sources(folder) if source.non_commercial}
    return frame.loc[~source_of(frame, folder).isin(excluded)].reset_index(drop=True)


def _left_out(data_set: str, folder: Path) -> set[str]:
    """The sources ``data_set`` leaves out (a source a kind of model does not read is not left out by the set)."""
    return (
        set() if data_set == DEFAULT_DATA_SET else {source.name for source in sources(folder) if source.non_commercial}
    )


def source_counts(frame: pd.DataFrame, folder: Path = PROVENANCE_DIR) -> dict[str, int]:
    """Rows per source name (``""``: rows of no bundled source)."""
    names = source_of(frame, folder)
    return {str(name): int(rows) for name, rows in names.value_counts().sort_index().items()}


def card(
    data_set: str, trained: dict[str, int], evaluated: dict[str, int], folder: Path = PROVENANCE_DIR
) -> dict[str, Any]:
    """What a model's metadata says of its data: the set, every bundled source with the rows it gave to
    training and to the golden split and its licence as stated, and the sources left out."""
    listed = sources(folder)
    used = [
        {**source.card(trained.get(source.name, 0)), "golden_rows": evaluated.get(source.name, 0)}
        for source in listed
        if trained.get(source.name) or evaluated.get(source.name)
    ]
    return {
        "data_set": data_set,
        "sources": used,
        "left_out": sorted(source.name for source in listed if source.name in _left_out(data_set, folder)),
        "other_rows": trained.get("", 0),
        "other_licence": OTHER_DATA,
        "licences": sorted({source["licence"] for source in used}),
        "non_commercial": any(source["non_commercial"] for source in used),
    }
