"""oneproxy from Python in one page: bundled tables, a proxy, adaptation to "my device" from 10
measurements, a search under a 5 ms constraint, and the front plotted if matplotlib is there.

Install:  pip install ./crates/oneproxy-py        Run:  python examples/python/quickstart.py

"My device" is simulated here by the bundled Raspberry Pi 4 column; replace `measure` with a
function that builds the PyTorch model of each architecture and times it on your device.
"""

import oneproxy

# 1. The bundled NB201 tables (DataFrames with pandas installed, labelled numpy arrays without).
latency = oneproxy.latency_table("nb201")
accuracy = oneproxy.accuracy_table("nb201", "cifar100")
print(f"{len(latency.columns)} devices, {len(oneproxy.architectures('nb201'))} architectures")

# 2. Which device ranks architectures most like all the others?
mono = oneproxy.monotonicity("nb201")
proxy = mono.recommended_proxy["device"]
print(f"recommended proxy: {proxy} (mean Spearman {mono.recommended_proxy['mean']:.3f})")

# 3. Measure 10 planned architectures on "my device" and adapt the proxy's predictor to it.
truth = oneproxy.latency_table("nb201", devices=["raspi4"], as_frame=False)
row = {a: i for i, a in enumerate(truth.rows)}


def measure(archs):
    """ms per image of each architecture on my device (here: looked up)."""
    return [float(truth.values[row[a], 0]) for a in archs]


samples = oneproxy.plan("nb201", budget=10, proxy=proxy, seed=0)
predictor = oneproxy.adapt(proxy=proxy, samples=dict(zip(samples, measure(samples))), target="my_device")
predicted = predictor.predict(truth.rows)  # a pandas Series indexed by architecture
print(f"adapted predictor: {len(predicted)} architectures predicted")

# 4. The accuracy/latency Pareto front on my device and the best architecture within 5 ms.
result = oneproxy.search(accuracy="cifar100", device=predictor, constraints=[5.0])
pick = result.picks[0]
print(f"front of {len(result.front)} architectures; within {pick.constraint_ms} ms: {pick.arch} ({pick.accuracy:.2f} %, predicted {pick.latency_ms:.2f} ms)")

# 5. The whole one-proxy flow, measuring only what it needs on my device.
flow = oneproxy.nas("nb201", "cifar100", target=measure, proxy=proxy, samples=10, constraints=[5.0], target_name="my_device")
print(f"one-proxy NAS: {flow.action} with {flow.proxy}, {len(flow.measurements)} measurements, {len(flow.front)} on the measured front")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("(install matplotlib to plot the front)")
else:
    front = result.front  # a DataFrame, or an oneproxy.Table without pandas: same columns
    plt.step(front["latency_ms"], front["accuracy"], where="post", marker="o", label="predicted front (adapted)")
    plt.axvline(5.0, color="grey", linestyle="--", label="5 ms")
    plt.xlabel("latency on my device (ms)")
    plt.ylabel("CIFAR-100 accuracy (%)")
    plt.legend()
    plt.savefig("quickstart_front.png", dpi=120)
    print("wrote quickstart_front.png")
