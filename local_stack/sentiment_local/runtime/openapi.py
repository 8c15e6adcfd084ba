"""Print the API's OpenAPI document, generated from its routes (``make openapi``)."""

from __future__ import annotations

import json
import sys

from api_function.handler import app
from api_function.openapi import openapi_document

if __name__ == "__main__":
    sys.stdout.write(json.dumps(json.loads(openapi_document(app)), indent=2, sort_keys=True) + "\n")
