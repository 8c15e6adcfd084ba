"""The API's routes, one module per resource."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse


def answers(status: int, description: str, model: type[Any]) -> dict[int, OpenAPIResponse]:
    """A success response for the OpenAPI document. Powertools documents the default one only when a
    route names no ``responses`` of its own, so every route that lists its errors lists this too."""
    return {status: {"description": description, "content": {"application/json": {"model": model}}}}
