"""What Lambda loads (the template's ``Handler``): the function's modules, imported with the cyclic garbage
collector paused, then frozen.

Init builds tens of thousands of objects (the libraries' modules, about 60 pydantic models, the routes)
that live as long as the execution environment, and none of them is garbage. Left on, the collector
walks all of them again and again as they pile up: a third of the project's import time here
(`make bench`). Frozen afterwards, they stay out of every later collection, so the collections a
request triggers walk only what requests make. With SnapStart, the snapshot holds them frozen too."""

from __future__ import annotations

import gc

gc.disable()
try:
    from api_function.handler import lambda_handler
finally:
    gc.freeze()
    gc.enable()

__all__ = ["lambda_handler"]
