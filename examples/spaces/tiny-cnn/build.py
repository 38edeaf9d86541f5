#!/usr/bin/env python3
"""Write the ONNX model of a tiny-cnn architecture (space.toml), with the `onnx` package only.

    python build.py ARCH OUT [--batch B]

ARCH is the architecture string (`k3-mb3-skip-dw5-k5`), OUT the file to write. As oneproxy's
builder command: --builder-cmd 'python build.py {arch} {out} --batch {batch}'.

The network: a 3x3 stem convolution (3 -> 16 channels) on a 32x32 image; five blocks, the
second and fourth preceded by a stride-2 3x3 transition convolution (16 -> 32, 32 -> 64
channels); global average pooling and a 10-way linear layer. Every block is residual (its
output is added to its input):

    k3   3x3 convolution, ReLU
    k5   5x5 convolution, ReLU
    mb3  1x1 convolution to 3x the channels, ReLU, depthwise 3x3, ReLU, 1x1 back
    dw5  depthwise 5x5, ReLU, 1x1 convolution, ReLU
    skip nothing

Weights are random (seeded), which does not change the latency. Errors go to stderr with a
non-zero exit status, as oneproxy expects of a builder.
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CHOICES = ("k3", "k5", "mb3", "dw5", "skip")
# (channels, stride of the transition convolution before the block; 1 = none)
BLOCKS = ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1))
STEM = 16
CLASSES = 10
IMAGE = 32


class Graph:
    """Nodes and weights of the model being built."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.weights = []
        self.count = 0

    def name(self, kind):
        self.count += 1
        return f"{kind}{self.count}"

    def weight(self, shape):
        fan_in = int(np.prod(shape[1:]))
        bound = np.sqrt(3.0 / fan_in)
        name = self.name("w")
        values = self.rng.uniform(-bound, bound, size=shape).astype(np.float32)
        self.weights.append(numpy_helper.from_array(values, name))
        return name

    def conv(self, x, c_in, c_out, k, stride=1, groups=1, relu=True):
        w = self.weight((c_out, c_in // groups, k, k))
        out = self.name("conv")
        p = k // 2
        self.nodes.append(
            helper.make_node(
                "Conv", [x, w], [out], kernel_shape=[k, k], strides=[stride, stride], pads=[p, p, p, p], group=groups
            )
        )
        return self.relu(out) if relu else out

    def relu(self, x):
        out = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [x], [out]))
        return out

    def add(self, a, b):
        out = self.name("add")
        self.nodes.append(helper.make_node("Add", [a, b], [out]))
        return out

    def block(self, x, choice, c):
        if choice == "skip":
            return x
        if choice == "k3":
            y = self.conv(x, c, c, 3)
        elif choice == "k5":
            y = self.conv(x, c, c, 5)
        elif choice == "mb3":
            y = self.conv(x, c, 3 * c, 1)
            y = self.conv(y, 3 * c, 3 * c, 3, groups=3 * c)
            y = self.conv(y, 3 * c, c, 1, relu=False)
        else:  # dw5
            y = self.conv(x, c, c, 5, groups=c)
            y = self.conv(y, c, c, 1)
        return self.add(x, y)


def parse(arch):
    parts = arch.split("-")
    if len(parts) != len(BLOCKS) or any(p not in CHOICES for p in parts):
        raise ValueError(
            f"'{arch}' is not a tiny-cnn architecture: expected {len(BLOCKS)} choices of {', '.join(CHOICES)} "
            "joined by '-'"
        )
    return parts


def build(arch, batch=1, seed=0):
    """The ONNX ModelProto of `arch` for `batch` images."""
    g = Graph(seed)
    x = g.conv("input", 3, STEM, 3)
    c = STEM
    for choice, (channels, stride) in zip(parse(arch), BLOCKS):
        if stride != 1 or channels != c:
            x = g.conv(x, c, channels, 3, stride=stride)
            c = channels
        x = g.block(x, choice, c)
    pooled = g.name("pool")
    g.nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
    flat = g.name("flat")
    g.nodes.append(helper.make_node("Flatten", [pooled], [flat], axis=1))
    w = g.weight((CLASSES, c))
    g.nodes.append(helper.make_node("Gemm", [flat, w], ["output"], transB=1))
    graph = helper.make_graph(
        g.nodes,
        "tiny-cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, IMAGE, IMAGE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, CLASSES])],
        initializer=g.weights,
    )
    model = helper.make_model(graph, producer_name="tiny-cnn build.py", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    model.doc_string = f"tiny-cnn {arch}"
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arch")
    ap.add_argument("out")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    try:
        model = build(a.arch, a.batch, a.seed)
    except ValueError as e:
        print(f"build.py: {e}", file=sys.stderr)
        return 2
    onnx.checker.check_model(model)
    onnx.save(model, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
