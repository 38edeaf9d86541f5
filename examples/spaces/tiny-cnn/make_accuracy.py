#!/usr/bin/env python3
"""Write tiny-cnn's synthetic accuracy file (accuracy.csv): `arch,accuracy` for every architecture.

Nobody trained these networks; the accuracies are a documented formula, with the structure real
ones have (more capacity helps, with diminishing returns; some blocks are worth more per cost
than others), so that the accuracy-latency trade-off is not trivial:

    capacity = sum over blocks i of  gain[choice_i] * weight[i]
    accuracy = 94 - 30 * exp(-capacity / 2.2) + noise(arch)

    gain   = {skip: 0, dw5: 0.9, k3: 1.0, k5: 1.25, mb3: 1.45}
    weight = [0.6, 0.8, 0.8, 1.0, 1.0]   (later, wider blocks matter more)
    noise  = uniform in [-0.25, 0.25], from the first 8 hex digits of sha256(arch)

rounded to 3 decimals. `python make_accuracy.py > accuracy.csv` rewrites the committed file.
"""
import hashlib
import itertools
import math
import sys

CHOICES = ("k3", "k5", "mb3", "dw5", "skip")
GAIN = {"skip": 0.0, "dw5": 0.9, "k3": 1.0, "k5": 1.25, "mb3": 1.45}
WEIGHT = (0.6, 0.8, 0.8, 1.0, 1.0)


def accuracy(arch):
    capacity = sum(GAIN[c] * w for c, w in zip(arch.split("-"), WEIGHT))
    h = int(hashlib.sha256(arch.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return round(94.0 - 30.0 * math.exp(-capacity / 2.2) + (h - 0.5) * 0.5, 3)


def main():
    out = sys.stdout
    out.write("arch,accuracy\n")
    for choices in itertools.product(CHOICES, repeat=len(WEIGHT)):
        arch = "-".join(choices)
        out.write(f"{arch},{accuracy(arch)}\n")


if __name__ == "__main__":
    main()
