"""The one convention every function builds its dependencies by: built once, forgotten by one reset."""

from __future__ import annotations

from sentiment_common.dependencies import dependency, reset


def test_a_dependency_is_built_once_per_argument_and_rebuilt_after_reset() -> None:
    calls: list[str] = []

    @dependency
    def client(name: str) -> dict[str, str]:
        calls.append(name)
        return {"name": name}

    first = client("a")
    assert client("a") is first
    client("b")
    assert calls == ["a", "b"]

    reset()
    assert client("a") is not first
    assert calls == ["a", "b", "a"]
