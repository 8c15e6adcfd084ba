from __future__ import annotations

from api_function.services import Services
from sentiment_common.errors import NotFoundError, ServiceUnavailableError
from sentiment_common.inference import ModelHealth
from sentiment_common.registry import ModelRecord


def model_health(services: Services) -> tuple[ModelHealth, ModelRecord | None]:
    """Whether the model answers, and the registry's record of the version that answered (its kind
    and encoder), when the registry knows it."""
    health = services.model.health()
    if not health.model_version:
        return health, None
    try:
        return health, services.models.get_model(health.model_version)
    except (NotFoundError, ServiceUnavailableError):  # health still answers: the record is extra
        return health, None
