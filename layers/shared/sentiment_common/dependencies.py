"""How every function builds what it runs on: one convention, one reset.

Each function keeps its builders in ``<function>/dependencies.py``: settings, adapters and clients, each
a function marked ``@dependency``. A builder runs on first use, not at import (so a test or the OpenAPI
generator imports the function without its environment, and a missing variable fails the first
invocation with the variable named), and its result is kept for the warm container. :func:`reset`
forgets everything every function built, so the next use reads the environment again: the one call
tests make after changing it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
T_co = TypeVar("T_co", covariant=True)


class Built(Protocol[P, T_co]):
    """A builder whose results are kept: called as the builder is, and forgotten by :func:`reset`."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T_co: ...

    def cache_clear(self) -> None: ...


_BUILT: list[Built[..., Any]] = []


def dependency(build: Callable[P, T_co]) -> Built[P, T_co]:
    """Run ``build`` once per distinct argument list and keep what it returns, until :func:`reset`."""
    kept: Built[P, T_co] = cache(build)
    _BUILT.append(kept)
    return kept


def reset() -> None:
    """Forget what every function built: the next use builds it again from the environment."""
    for kept in _BUILT:
        kept.cache_clear()
