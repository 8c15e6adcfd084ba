"""Labelled files (datasets): an admin uploads rows of text and label that the next retraining run trains on."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from api_function.dependencies import services
from api_function.idempotency import once
from api_function.logic import datasets
from api_function.routes import admin_only, answers, documented
from api_function.routes.comments import ERRORS, IdempotencyKey
from api_function.schemas import DatasetCreated, DatasetOut, DatasetPage, DatasetRequest
from sentiment_common.datasets import NAME_PATTERN

router = Router()

DatasetName = Annotated[str, Path(pattern=NAME_PATTERN, description="The dataset's name")]

NO_SUCH_DATASET: dict[int, OpenAPIResponse] = {404: documented("No dataset by that name")}


@admin_only(
    router.post,
    "/datasets",
    "Record a labelled file and get its upload URL; the upload is validated and imported; admin",
    {
        **answers(201, "Recorded; PUT the file to upload_url", DatasetCreated),
        **ERRORS,
        409: documented("A dataset by that name exists (delete it first), or the Idempotency-Key is in use"),
    },
    status_code=HTTPStatus.CREATED,
)
def create_dataset(request: DatasetRequest, idempotency_key: IdempotencyKey = None) -> Response[str]:
    created = once(
        idempotency_key,
        "POST /datasets",
        request,
        lambda: DatasetCreated.of(datasets.create_dataset(request.name, request.format, services())),
        DatasetCreated,
    )
    return Response(
        status_code=HTTPStatus.CREATED,
        content_type="application/json",
        body=created.model_dump_json(),
        # The URL grants an upload: it must not sit in a shared cache.
        headers={"Cache-Control": "no-store", "Location": f"/datasets/{created.name}"},
    )


@admin_only(
    router.get,
    "/datasets",
    "Datasets, newest first, with their counts; admin",
    {**answers(200, "A page of datasets", DatasetPage), 400: documented("A next_token this API did not issue")},
)
def list_datasets(
    limit: Annotated[int, Query(ge=1, le=100, description="Datasets per page")] = 20,
    next_token: Annotated[str | None, Query(max_length=2048, description="From the previous page")] = None,
) -> DatasetPage:
    views, token = datasets.list_datasets(services(), limit, next_token)
    return DatasetPage(items=[DatasetOut.of(view) for view in views], next_token=token)


@admin_only(
    router.get,
    "/datasets/<name>",
    "One dataset: status, counts, the first rejected rows and the full report's URL; admin",
    {**answers(200, "The dataset", DatasetOut), **NO_SUCH_DATASET},
)
def get_dataset(name: DatasetName) -> DatasetOut:
    return DatasetOut.of(datasets.get_dataset(name, services()))


@admin_only(
    router.delete,
    "/datasets/<name>",
    "Delete a dataset and its files: the next run no longer trains on it; admin",
    {**answers(200, "Deleted; the record as it was", DatasetOut), **NO_SUCH_DATASET},
)
def delete_dataset(name: DatasetName) -> DatasetOut:
    return DatasetOut.of(datasets.DatasetView(dataset=datasets.delete_dataset(name, services()), report_url=None))
