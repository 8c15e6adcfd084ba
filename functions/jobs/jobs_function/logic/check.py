"""CheckFile: before any row is classified, read the whole upload once, as a stream.

A file that is not of its format, or lacks the text (or id) field, fails the job here with the reason.
Otherwise the rows are counted, and the ones that are not valid UTF-8 are listed; when there are any,
the map reads a copy in which their bad bytes are replaced (its reader needs text) and the merge reports
them as ``UNSUPPORTED_ENCODING``, as Comprehend reports such lines.
"""

from __future__ import annotations

import tempfile
from array import array
from pathlib import Path

from jobs_function.logic.files import readable_key, unreadable_key
from jobs_function.logic.rows import header, rows
from jobs_function.ports import JobFiles
from jobs_function.steps import Checked
from sentiment_common.jobs import JobCounts, JobFormat, JobInput, JobStatus, map_prefix
from sentiment_common.observability import logger
from sentiment_common.ports import Jobs
from sentiment_common.records import utc_now

CONTENT_TYPES = {JobFormat.CSV: "text/csv", JobFormat.JSONL: "application/jsonl"}


def check(job: JobInput, files: JobFiles, jobs: Jobs) -> Checked:
    jobs.move(job.job_id, JobStatus.IN_PROGRESS, {JobStatus.SUBMITTED}, started_at=utc_now())
    fields = [job.text_field, *([job.id_field] if job.id_field else [])]
    unreadable = array("I")
    total = 0
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "readable"
        with copy.open("w", encoding="utf-8", newline="") as readable:
            if job.format is JobFormat.CSV:
                readable.write(header(files.stream(job.key)))
            for row in rows(files.stream(job.key), job.format, fields):
                total += 1
                readable.write(row.line)
                if not row.readable:
                    unreadable.append(row.index)
        read_key = job.key
        if unreadable:
            read_key = readable_key(job.job_id)
            files.upload(read_key, copy, CONTENT_TYPES[job.format])
    files.write(unreadable_key(job.job_id), unreadable.tobytes(), "application/octet-stream")
    jobs.record_counts(job.job_id, JobCounts(total=total))
    logger.info("job file checked", extra={"job_id": job.job_id, "rows": total, "unreadable": len(unreadable)})
    return Checked(
        job_id=job.job_id,
        format=job.format,
        bucket=job.bucket,
        read_key=read_key,
        text_field=job.text_field,
        id_field=job.id_field,
        total=total,
        unreadable=len(unreadable),
        map_prefix=map_prefix(job.job_id),
    )
