"""The HTTP API function: comments, feedback, health and the OpenAPI document.

``handler`` (Powertools resolver, routes, error mapping) → ``logic`` (what happens) →
``sentiment_common.dal`` / ``sentiment_common.inference`` (AWS and the model).
"""
