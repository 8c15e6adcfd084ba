"""Where PrepareDataset learns whose labels were withdrawn (the ``WithdrawnReviewers`` port)."""

from __future__ import annotations


class NoReviewersTable:
    """The stand-in while this stack keeps no table of reviewers: with no reviewer keys there is nobody
    whose labels could be withdrawn. A stack with reviewers wires their table's adapter in its place."""

    def withdrawn(self) -> set[str]:
        return set()
