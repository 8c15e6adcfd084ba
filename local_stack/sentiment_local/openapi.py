"""Print the API's OpenAPI document, generated from its routes (``make openapi``)."""

from __future__ import annotations

import json
import os
import sys

# Settings are read at import; the document does not depend on their values.
for _name, _value in {
    "COMMENTS_TABLE": "comments",
    "MONITORING_TABLE": "monitoring",
    "DATA_BUCKET": "data",
    "PENDING_QUEUE_URL": "https://queue.invalid/pending",
    "IDEMPOTENCY_TABLE": "idempotency",
    "INFERENCE_BACKEND": "ecs",
    "REGISTRY_TABLE": "registry",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:retrain",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ.setdefault(_name, _value)

from api_function.handler import openapi_document  # noqa: E402

if __name__ == "__main__":
    sys.stdout.write(json.dumps(json.loads(openapi_document()), indent=2, sort_keys=True) + "\n")
