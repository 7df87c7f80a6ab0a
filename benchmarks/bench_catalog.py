"""Benchmark: how long loading and validating the full technique database takes.

Target (issue 2): well under one second. Writes benchmarks/results/catalog.json.

    python benchmarks/bench_catalog.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from advisor import load_catalog

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        cat = load_catalog()
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    cat.graph()
    graph_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cat.to_frame()
    frame_s = time.perf_counter() - t0
    q = statistics.quantiles(times, n=4)
    result = {
        "benchmark": "load_catalog",
        "n_techniques": len(cat),
        "n_references": len(cat.references),
        "repeats": args.repeats,
        "load_median_s": statistics.median(times),
        "load_iqr_s": q[2] - q[0],
        "load_min_s": min(times),
        "graph_build_s": graph_s,
        "to_frame_s": frame_s,
        "target_load_s": 1.0,
        "meets_target": statistics.median(times) < 1.0,
        "machine": platform.platform(),
        "python": platform.python_version(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "catalog.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
