from __future__ import annotations

from sentiment_common.inference import ModelHealth

from api_function.services import Services


def model_health(services: Services) -> ModelHealth:
    return services.model.health()
