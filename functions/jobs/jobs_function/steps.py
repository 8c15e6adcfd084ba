"""What each step of the classify state machine takes and returns (its ``Parameters`` and ``ResultPath``).

The execution's input is :class:`JobInput`; CheckFile's answer goes to ``$.checked``; each child of the
Distributed Map is given a :class:`Batch` (``ItemSelector`` → ``ItemBatcher``) and answers a
:class:`BatchResult`; the map's own output (ResultWriter's) goes to ``$.map``; MergeResults takes
:class:`MergeInput`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from sentiment_common.jobs import JobFormat, RowError


class Step(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class Checked(Step):
    """CheckFile's answer: the file can be classified, and what the map reads."""

    job_id: str
    format: JobFormat
    bucket: str
    read_key: Annotated[
        str, Field(description="What the map reads: the upload, or its readable copy when rows are not UTF-8")
    ]
    text_field: str
    id_field: str | None = None
    total: Annotated[int, Field(ge=0, description="Data rows in the file")]
    unreadable: Annotated[int, Field(ge=0, description="Rows that are not valid UTF-8")]
    map_prefix: Annotated[str, Field(description="ResultWriter's prefix")]


class BatchItem(Step):
    """One row as the ItemSelector passes it: its position (``$$.Map.Item.Index``) and value."""

    index: Annotated[int, Field(ge=0)]
    row: Any


class BatchContext(Step):
    """The ItemBatcher's ``BatchInput``: what every batch of a job shares."""

    job_id: str
    text_field: str


class Batch(Step):
    items: Annotated[list[BatchItem], Field(alias="Items", min_length=1)]
    batch_input: Annotated[BatchContext, Field(alias="BatchInput")]


# One classified row, compact: [index, label, negative, neutral, positive, model_version, error, language,
# supported]; a row with an error has None for all but its index and error. Rows a map run wrote before
# answers carried a language have the first seven only.
ResultRow = (
    tuple[int, str | None, float | None, float | None, float | None, str | None, RowError | None]
    | tuple[
        int, str | None, float | None, float | None, float | None, str | None, RowError | None, str | None, bool | None
    ]
)


class BatchResult(Step):
    rows: list[ResultRow]


class ResultWriterDetails(Step):
    bucket: Annotated[str, Field(alias="Bucket")]
    key: Annotated[str, Field(alias="Key", description="The map run's manifest.json")]


class MapOutput(Step):
    """A Distributed Map's output when it has a ResultWriter."""

    map_run_arn: Annotated[str, Field(alias="MapRunArn")]
    result_writer_details: Annotated[ResultWriterDetails, Field(alias="ResultWriterDetails")]


class MergeInput(Step):
    checked: Checked
    map: MapOutput


class Merged(Step):
    job_id: str
    results_key: str
    total: int
    succeeded: int
    failed: int
