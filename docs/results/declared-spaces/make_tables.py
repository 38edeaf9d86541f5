#!/usr/bin/env python3
"""Write the bundled FBNet and OFA-MobileNetV3 latency tables as latency files of their space-file
declarations (examples/spaces/fbnet.toml, examples/spaces/ofa-mbv3.toml).

    python make_tables.py OUT_DIR

FBNet's strings are the same in both; OFA's are rewritten from the bundled columns (resolution,
depths, kernel sizes and expand ratios of all 20 block slots) into the declared form: `r<res>`,
then per stage `d<depth>`, four kernel sizes and four expand ratios, `~` beyond the depth.
"""
import csv
import gzip
import pathlib
import sys

DATA = pathlib.Path(__file__).resolve().parents[3] / "crates" / "oneproxy" / "data"


def rows(path):
    with gzip.open(path, "rt", newline="") as f:
        return list(csv.DictReader(f))


def ofa_string(row):
    depths = [int(d) for d in row["depths"].split(";")]
    kernels = row["kernel_sizes"].split(";")
    expands = row["expand_ratios"].split(";")
    parts = [f"r{row['resolution']}"]
    for stage, depth in enumerate(depths):
        parts.append(f"d{depth}")
        slots = range(stage * 4, stage * 4 + 4)
        parts += [f"k{kernels[s]}" if s - stage * 4 < depth else "~" for s in slots]
        parts += [f"e{expands[s]}" if s - stage * 4 < depth else "~" for s in slots]
    return "-".join(parts)


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for folder, name, to_string in (("fbnet", "fbnet", lambda r: r["arch"]), ("ofa_mbv3", "ofa-mbv3", ofa_string)):
        archs = rows(DATA / folder / "archs.csv.gz")
        latency = rows(DATA / folder / "latency.csv.gz")
        devices = [k for k in latency[0] if k != "index"]
        target = out / f"{name}.csv"
        with open(target, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["arch"] + devices)
            for a, l in zip(archs, latency):
                assert a["index"] == l["index"], (a["index"], l["index"])
                w.writerow([to_string(a)] + [l[d] for d in devices])
        print(f"wrote {target} ({len(archs)} architectures, {len(devices)} devices)")


if __name__ == "__main__":
    main()
