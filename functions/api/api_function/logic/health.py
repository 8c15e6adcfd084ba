from __future__ import annotations

from api_function.services import Services
from sentiment_common.inference import ModelHealth


def model_health(services: Services) -> ModelHealth:
    return services.model.health()
