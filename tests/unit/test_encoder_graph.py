"""The encoder's fp32 graph, derived from the shipped int8 one, and the start-up choice between them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pydantic
import pytest

from sentiment_model.encoder import BUNDLED, MODEL_FILE, Encoder
from sentiment_model.encoder_graph import GRAPHS, MARGIN, PROBE_TEXTS, GraphError, choose, fp32_graph
from sentiment_model.server import ServerSettings

TEXTS = [
    "I expected more, honestly",
    "Great support team, fixed in an hour!",
    "The meeting is at 3pm in room 4",
    "This phone is the worst I ever had and the battery dies by noon.",
]


@pytest.fixture(scope="module")
def derived() -> onnx.ModelProto:
    return onnx.load_from_string(fp32_graph(BUNDLED / MODEL_FILE))


def test_the_fp32_graph_has_no_quantized_product_left(derived: onnx.ModelProto) -> None:
    shipped = onnx.load(str(BUNDLED / MODEL_FILE))
    ops = {node.op_type for node in derived.graph.node}
    assert "MatMulInteger" in {node.op_type for node in shipped.graph.node}
    assert not ops & {"MatMulInteger", "DynamicQuantizeLinear"}
    # Only what the rewritten products used is gone: the int8 weights, not the rest of the model.
    names = {tensor.name for tensor in derived.graph.initializer}
    assert not any(name.endswith("_quantized") and "MatMul" in name for name in names)
    assert sum(tensor.name.endswith("_fp32") for tensor in derived.graph.initializer) == 36
    onnx.checker.check_model(derived)


def test_the_fp32_graph_reads_texts_as_the_int8_graph_does_within_quantization_noise() -> None:
    int8 = Encoder(BUNDLED, threads=1, graph="int8").encode(TEXTS)
    fp32 = Encoder(BUNDLED, threads=1, graph="fp32").encode(TEXTS)
    cosines = (int8 * fp32).sum(axis=1)
    assert np.all(cosines > 0.95), cosines
    assert not np.array_equal(int8, fp32)  # another graph, not the same one under another name
    assert np.allclose(np.linalg.norm(fp32, axis=1), 1.0, atol=1e-3)


def test_a_graph_without_quantized_products_is_refused(tmp_path: Path, derived: onnx.ModelProto) -> None:
    path = tmp_path / "model.onnx"
    onnx.save(derived, str(path))
    with pytest.raises(ValueError, match="no quantized products"):
        fp32_graph(path)


def timed(costs: dict[str, float]) -> dict[str, object]:
    """The choice made when each graph's run costs ``costs[graph]`` ms a probe text, on a fake clock."""
    now = [0.0]

    def run(graph: str) -> Callable[[], object]:
        def go() -> None:
            now[0] += costs[graph] * len(PROBE_TEXTS) / 1000

        return go

    choice = choose({graph: run(graph) for graph in GRAPHS}, clock=lambda: now[0])
    return {"graph": choice.graph, **choice.milliseconds}


@pytest.mark.parametrize(
    ("int8", "fp32", "taken"),
    [
        (4.0, 2.0, "fp32"),  # an AVX2-only CPU, where fp32 kernels win
        (2.0, 4.0, "int8"),  # a CPU with VNNI
        (4.0, 4.0 * (1 - MARGIN / 2), "int8"),  # faster, but not clearly: the reference stays
        (4.0, 4.0 * (1 - 2 * MARGIN), "fp32"),
    ],
)
def test_auto_takes_fp32_only_when_it_is_clearly_faster(int8: float, fp32: float, taken: str) -> None:
    choice = timed({"int8": int8, "fp32": fp32})
    assert choice == {"graph": taken, "int8": pytest.approx(int8), "fp32": pytest.approx(fp32)}


def test_auto_runs_the_graph_it_chose_and_says_so() -> None:
    auto = Encoder(BUNDLED, threads=1, graph="auto")
    described = auto.choice.as_dict()
    assert described["asked"] == "auto"
    assert set(described["ms_per_text"]) == set(GRAPHS)
    assert all(ms > 0 for ms in described["ms_per_text"].values())
    forced = Encoder(BUNDLED, threads=1, graph=auto.choice.graph)
    assert np.array_equal(auto.encode(TEXTS), forced.encode(TEXTS))


def test_an_unknown_graph_is_refused_by_the_encoder_and_the_server_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(GraphError, match="use one of auto, int8, fp32"):
        Encoder(BUNDLED, threads=1, graph="int4")
    assert ServerSettings().encoder_graph == "auto"
    monkeypatch.setenv("ENCODER_GRAPH", "int4")
    with pytest.raises(pydantic.ValidationError, match="ENCODER_GRAPH"):
        ServerSettings()
