"""The HTTP API function: comments, feedback, health and the OpenAPI document.

``handler`` (the resolver wired from ``routes``, ``middleware``, ``errors`` and ``openapi``;
``context`` builds settings and adapters on first use) → ``logic`` (what happens) →
``sentiment_common.dal`` / ``sentiment_common.inference`` (AWS and the model).
"""
