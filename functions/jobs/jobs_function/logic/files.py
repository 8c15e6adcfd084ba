"""Where a job's steps keep what they pass each other in the data bucket, besides the upload and results."""

from __future__ import annotations

from sentiment_common.jobs import job_prefix


def readable_key(job_id: str) -> str:
    """The upload with each invalid UTF-8 byte replaced by U+FFFD: what the map reads when there are such rows."""
    return f"{job_prefix(job_id)}readable"


def unreadable_key(job_id: str) -> str:
    """The indices of the rows that are not UTF-8, as unsigned 32-bit integers (``array('I')``)."""
    return f"{job_prefix(job_id)}unreadable"
