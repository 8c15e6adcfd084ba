"""The domain package every function shares: models, settings, errors, observability and adapters.

Deployed as the shared Lambda layer (``layers/shared``). Only the modules under ``dal`` and
``inference`` talk to AWS or to the model; everything else is plain Python.
"""
