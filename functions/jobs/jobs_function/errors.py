"""The job steps' failures, by name: the classify state machine's ``Retry`` and the job's ``reason`` see
the class name as the error."""

from __future__ import annotations


class JobFileError(Exception):
    """The uploaded file cannot be classified; the job fails before any row is, with this reason."""


class NotCsvError(JobFileError):
    """The file is not CSV with a header row."""


class NotJsonLinesError(JobFileError):
    """The file is not JSON Lines: one JSON object per line."""


class MissingFieldError(JobFileError):
    """The header (CSV) or a line (JSON Lines) lacks the text field, or the id field asked for."""


class JobNotFoundError(Exception):
    """A step ran for a job the jobs table does not hold."""
