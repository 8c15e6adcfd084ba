"""How the local stack patches moto: attributes set on moto's classes and modules, each put back on undo, and
only on the moto version the patches were written against (their targets are moto's internals)."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

MOTO_VERSION = "5.2.5"


_MISSING = object()


class Patches:
    """Attributes set on moto's classes and modules, and how to put them back."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        # A class's own attribute, not one it inherits: undoing must not copy the parent's onto it.
        original = vars(owner).get(name, _MISSING)
        self._saved.append((owner, name, original))
        setattr(owner, name, value)

    def undo(self) -> None:
        for owner, name, original in reversed(self._saved):
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._saved.clear()


class MotoVersionError(RuntimeError):
    pass


def check_version() -> None:
    found = version("moto")
    if found != MOTO_VERSION:
        raise MotoVersionError(f"the local stack is written against moto {MOTO_VERSION}; {found} is installed")
