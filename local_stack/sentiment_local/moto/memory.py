"""moto's memory grows with the data, not with every request: moto appends each model instance it makes to a
class-wide list (for its dashboard and its reset), so an item read is an item kept. AWS keeps nothing per
request; the models made on every request (items, objects, messages) are not tracked here, and the data
itself is held by moto's backends as before."""

from __future__ import annotations

from typing import Any

from sentiment_local.moto.patching import Patches


class _Untracked(list[Any]):
    """moto's record of every instance of a model class, which keeps each one alive until moto is reset."""

    def append(self, instance: Any) -> None:
        del instance


UNTRACKED_MODELS = (
    ("moto.dynamodb.models.dynamo_type", "Item"),  # every write, and the copy each read answers with
    ("moto.s3.models", "FakeKey"),  # every object written, bytes and all
    ("moto.sqs.models", "Message"),  # every message sent
)


def plug_instance_tracking(patches: Patches) -> None:
    """moto appends each model instance it makes to a class-wide list (for its dashboard and its reset),
    so memory grows with every request, not with the data: an item read is an item kept. The models
    made on every request are not tracked here; the data itself is held by the backends as before."""
    import importlib  # noqa: PLC0415

    for module, name in UNTRACKED_MODELS:
        patches.set(getattr(importlib.import_module(module), name), "instances_tracked", _Untracked())
