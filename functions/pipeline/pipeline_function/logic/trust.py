"""Which labels a run trains on: the one trust rule, a pure function of the labels, the ``PublicLabels``
policy and the reviewers whose labels were withdrawn.

- A withdrawn reviewer's labels are dropped, whenever they were given.
- A public label trains only under ``train``: under ``suggest`` or ``ignore`` it is dropped.
- A label on a comment in a language the model was not trained for is dropped (the comment's answer was
  a guess; the label is the comment's answer from then on, and is kept in the archive).
- Of what remains, each comment (or each text given without a comment) keeps one label: a reviewer's
  outranks any public one whatever their times (a stranger cannot undo a review by labelling later);
  among labels of the same rank the latest wins.

Labelled files (datasets, ``sentiment_common.datasets``) are not judged here: only an admin can upload
one, so its accepted rows always train, whatever the policy on public labels, as base data beside the
feedback (``logic/prepare.py``), never in the feedback hold-out.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum

from sentiment_common.records import FeedbackRecord, LabelSource, PublicLabels


class Dropped(StrEnum):
    """Why a label does not train, as the manifest counts them."""

    WITHDRAWN = "withdrawn"  # its reviewer's labels were withdrawn
    POLICY = "public_labels_policy"  # a public label while PublicLabels is suggest or ignore
    OUTRANKED = "outranked"  # a public label on a comment or text a reviewer labelled
    SUPERSEDED = "superseded"  # a later label of the same rank replaced it
    UNSUPPORTED_LANGUAGE = "unsupported_language"  # on a comment in a language the model was not trained for


def fold(text: str) -> str:
    """A text's identity when feedback has no comment id: case and spacing ignored."""
    return " ".join(text.lower().split())


def subject(record: FeedbackRecord) -> str:
    """What a label is about: its comment, or its folded text when it has none."""
    return f"comment:{record.comment_id}" if record.comment_id else f"text:{fold(record.text)}"


def _order(record: FeedbackRecord) -> tuple[object, ...]:
    return record.created_at, record.feedback_id


def latest_labels(records: list[FeedbackRecord]) -> tuple[list[FeedbackRecord], int]:
    """One record per comment (or per text without a comment): the latest label wins.
    Returns the kept records, oldest first, and how many were superseded."""
    latest: dict[str, FeedbackRecord] = {}
    for record in sorted(records, key=_order):
        latest[subject(record)] = record
    kept = sorted(latest.values(), key=_order)
    return kept, len(records) - len(kept)


def refusal(record: FeedbackRecord, policy: PublicLabels, withdrawn: set[str]) -> Dropped | None:
    """Why a label cannot train whatever else is given, or None: decided label by label, so a run reading
    labels as they stream past never holds the ones it will drop."""
    if record.source is LabelSource.REVIEWER and record.reviewer in withdrawn:
        return Dropped.WITHDRAWN
    if record.source is LabelSource.PUBLIC and policy is not PublicLabels.TRAIN:
        return Dropped.POLICY
    if record.supported is False:
        return Dropped.UNSUPPORTED_LANGUAGE
    return None


def training_labels(
    records: list[FeedbackRecord], policy: PublicLabels, withdrawn: set[str]
) -> tuple[list[FeedbackRecord], Counter[Dropped]]:
    """The labels that train, oldest first, and how many were dropped for each reason."""
    dropped: Counter[Dropped] = Counter()
    eligible: list[FeedbackRecord] = []
    for record in records:
        if reason := refusal(record, policy, withdrawn):
            dropped[reason] += 1
        else:
            eligible.append(record)
    kept, ranking = ranked_labels(eligible)
    dropped.update(ranking)
    return kept, dropped


def ranked_labels(eligible: list[FeedbackRecord]) -> tuple[list[FeedbackRecord], Counter[Dropped]]:
    """Of labels that may train, one per comment or text: a reviewer's over the public's, then the latest."""
    dropped: Counter[Dropped] = Counter()
    reviewed = {subject(record) for record in eligible if record.source is LabelSource.REVIEWER}
    ranked = [record for record in eligible if record.source is LabelSource.REVIEWER or subject(record) not in reviewed]
    dropped[Dropped.OUTRANKED] += len(eligible) - len(ranked)
    kept, superseded = latest_labels(ranked)
    dropped[Dropped.SUPERSEDED] += superseded
    return kept, dropped
