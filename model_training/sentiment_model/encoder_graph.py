"""Which graph of the encoder runs on this CPU: the shipped int8 graph, or an fp32 graph derived from it.

The bundled encoder ships one ``model.onnx``, quantized by onnxruntime's ``quantize_dynamic``: int8
weights, and activations quantized on the fly (``DynamicQuantizeLinear`` then ``MatMulInteger``). int8
matrix products are fast where the CPU has int8 dot-product instructions (AVX-512 VNNI, AVX-VNNI, AMX)
and lose much of their lead on CPUs with AVX2 alone, where onnxruntime's fp32 kernels can be faster.

:func:`fp32_graph` rewrites each quantized product over a constant weight into a plain ``MatMul`` over
that weight dequantized once (``(W - zero_point) * scale``): the same weights, no activation
quantization, no file to ship. Its embeddings are within a cosine of 0.99 of the int8 graph's on
average (0.95 at the lowest seen), so a text's label can differ on the margin (1.5 % of the golden
split's); the int8 graph stays the reference that training, the
embedding cache and the promotion gate use, and a server takes fp32 only when it is clearly faster
on the CPU it runs on (:func:`choose`, timed on a few texts at start-up).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

Graph = Literal["int8", "fp32"]
GRAPHS: tuple[Graph, ...] = ("int8", "fp32")
# What a server may be told (ENCODER_GRAPH): one graph, or "auto" to time both at start-up.
CHOICES = ("auto", *GRAPHS)
REFERENCE: Graph = "int8"

# fp32 replaces the reference only when it is at least this much faster: a label may differ on the
# margin between the two, which is worth it only for a clear gain.
MARGIN = 0.10
ROUNDS = 7
# Texts of the lengths people write (8 to 60 tokens), timed one at a time as the server runs them.
PROBE_TEXTS = (
    "Thanks, that fixed it.",
    "The delivery was two days late and nobody answered my emails.",
    "I expected more, honestly: the screen is sharp but the battery barely lasts a day and the charger "
    "runs hot, so I am sending it back.",
    "Great support team! They called me back within an hour, explained what had gone wrong with my "
    "order, refunded the shipping without my asking and sent a replacement that arrived the next "
    "morning, well packed and working perfectly.",
)


class GraphError(ValueError):
    """An unknown graph was asked for."""


def checked(graph: str) -> str:
    if graph not in CHOICES:
        raise GraphError(f"unknown encoder graph {graph!r}: use one of {', '.join(CHOICES)}")
    return graph


def fp32_graph(path: Path) -> bytes:
    """The int8 graph at ``path`` with every ``MatMulInteger`` over a constant weight made an fp32
    ``MatMul`` over the dequantized weight; what only the removed products used is dropped."""
    import numpy as np  # noqa: PLC0415
    import onnx  # noqa: PLC0415 - only a server that may run fp32 needs it
    from onnx import helper, numpy_helper  # noqa: PLC0415

    model = onnx.load(str(path))
    graph = model.graph
    constants = {tensor.name: tensor for tensor in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    replaced: dict[int, Any] = {}  # id of the node whose output the new MatMul takes over -> MatMul
    removed: set[int] = set()
    new_weights = []
    for node in graph.node:
        if node.op_type != "MatMulInteger" or node.input[1] not in constants:
            continue
        quantize = producer.get(node.input[0])
        cast = consumers.get(node.output[0], [])
        if quantize is None or quantize.op_type != "DynamicQuantizeLinear" or len(cast) != 1:
            continue
        scale = consumers.get(cast[0].output[0], [])
        if cast[0].op_type != "Cast" or len(scale) != 1 or scale[0].op_type != "Mul":
            continue
        weight_scale = _weight_scale(scale[0], cast[0].output[0], producer, constants, quantize)
        if weight_scale is None:
            continue
        weight = numpy_helper.to_array(constants[node.input[1]]).astype(np.float32)
        zero_point = (
            numpy_helper.to_array(constants[node.input[3]]).astype(np.float32)
            if len(node.input) > 3 and node.input[3]
            else np.float32(0)
        )
        name = f"{node.input[1]}_fp32"
        new_weights.append(numpy_helper.from_array(((weight - zero_point) * weight_scale).astype(np.float32), name))
        matmul = helper.make_node("MatMul", [quantize.input[0], name], [scale[0].output[0]], name=f"{node.name}_fp32")
        replaced[id(scale[0])] = matmul
        removed.update({id(node), id(cast[0])})
    if not replaced:
        raise ValueError(f"{path} has no quantized products to rewrite: is it the int8 encoder?")

    nodes = [replaced.get(id(node), node) for node in graph.node if id(node) not in removed]
    nodes = _live(nodes, [output.name for output in graph.output])
    used = {name for node in nodes for name in node.input}
    kept = [tensor for tensor in [*graph.initializer, *new_weights] if tensor.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    log.info("derived the fp32 graph: %d quantized products rewritten", len(replaced))
    return bytes(model.SerializeToString())


def _weight_scale(
    mul: Any, cast_output: str, producer: dict[str, Any], constants: dict[str, Any], quantize: Any
) -> Any:
    """The weight's scale in ``cast * (activation_scale * weight_scale)``, as quantize_dynamic writes it."""
    from onnx import numpy_helper  # noqa: PLC0415

    other = mul.input[1] if mul.input[0] == cast_output else mul.input[0]
    scales = producer.get(other)
    if scales is None or scales.op_type != "Mul":
        return None
    activation_scale = quantize.output[1]
    names = list(scales.input)
    if activation_scale not in names:
        return None
    names.remove(activation_scale)
    if names[0] not in constants:
        return None
    return numpy_helper.to_array(constants[names[0]])


def _live(nodes: list[Any], outputs: Sequence[str]) -> list[Any]:
    """The nodes that the graph's outputs depend on, in their order."""
    producer = {output: node for node in nodes for output in node.output}
    needed, stack, live = set(outputs), list(outputs), set()
    while stack:
        node = producer.get(stack.pop())
        if node is None or id(node) in live:
            continue
        live.add(id(node))
        for name in node.input:
            if name and name not in needed:
                needed.add(name)
                stack.append(name)
    return [node for node in nodes if id(node) in live]


@dataclass(frozen=True)
class Choice:
    """The graph taken, and how fast each ran here: median milliseconds per probe text, one thread."""

    graph: Graph
    asked: str
    milliseconds: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"graph": self.graph, "asked": self.asked, "ms_per_text": self.milliseconds}


def choose(runs: dict[Graph, Callable[[], object]], clock: Callable[[], float] = time.perf_counter) -> Choice:
    """Time each graph's ``run`` (the probe texts, one by one) side by side over a few rounds, after one
    warm-up each; take fp32 only when its median is at least ``MARGIN`` below the reference's."""
    for run in runs.values():
        run()
    rounds: dict[Graph, list[float]] = {graph: [] for graph in runs}
    for _ in range(ROUNDS):
        for graph, run in runs.items():
            started = clock()
            run()
            rounds[graph].append((clock() - started) * 1000 / len(PROBE_TEXTS))
    medians: dict[str, float] = {graph: round(statistics.median(times), 3) for graph, times in rounds.items()}
    faster = medians["fp32"] < medians[REFERENCE] * (1 - MARGIN)
    taken: Graph = "fp32" if faster else REFERENCE
    log.info(
        "encoder graph %s on this CPU: %s ms a text",
        taken,
        ", ".join(f"{graph} {ms:.2f}" for graph, ms in medians.items()),
    )
    return Choice(taken, "auto", medians)
