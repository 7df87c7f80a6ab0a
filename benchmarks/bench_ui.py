"""Benchmark: how fast the literature explorer reacts on the full catalog.

Target (issue 6): a filter change, a search keystroke or a sort change well under 200 ms.
Times each interaction the way a user triggers it (setting a widget's value fires the same
handlers as the browser does), without a kernel or browser, so comm traffic and rendering in
the browser are not included. Writes benchmarks/results/ui.json.

    python benchmarks/bench_ui.py [--repeats N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from advisor import load_catalog
from advisor.catalog import schema as S
from advisor.ui.explorer import Explorer

RESULTS = Path(__file__).parent / "results"
TARGET_MS = 200.0


def timed(actions: list[Callable[[], Any]]) -> dict[str, float]:
    """Run each action once, timing it; median, IQR, min and max in milliseconds."""
    times = []
    for act in actions:
        t0 = time.perf_counter()
        act()
        times.append((time.perf_counter() - t0) * 1000)
    q = statistics.quantiles(times, n=4)
    return {
        "n": len(times),
        "median_ms": statistics.median(times),
        "iqr_ms": q[2] - q[0],
        "min_ms": min(times),
        "max_ms": max(times),
    }


def setter(widget: Any, value: Any) -> Callable[[], None]:
    def act() -> None:
        widget.value = value

    return act


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=24, help="interactions per kind (>= 20)")
    args = ap.parse_args()
    n = max(args.repeats, 20)
    cat = load_catalog()

    t0 = time.perf_counter()
    ex = Explorer(cat)
    build_ms = (time.perf_counter() - t0) * 1000

    # filter changes: alternate between a narrowing value and "any" on several axes
    filter_values = [
        (ex.category, ("efficient-inference",)),
        (ex.stage, ("deployment", "training")),
        (ex.hardware, ("cpu",)),
        (ex.family, ("transformer",)),
        (ex.level, ("arithmetic",)),
        (ex.phase, ("inference",)),
    ]
    filters = []
    for i in range(n):  # set one axis, then clear it again, axis after axis
        widget, value = filter_values[(i // 2) % len(filter_values)]
        filters.append(setter(widget, value if i % 2 == 0 else ()))
    filter_stats = timed(filters)
    evidence_stats = timed([setter(ex.evidence_only, i % 2 == 0) for i in range(n)])

    # search keystrokes: typing words one character at a time on the full catalog
    words = itertools.cycle(["quantization", "pruning", "attention", "energy"])
    keys: list[Callable[[], None]] = []
    while len(keys) < n:
        word = next(words)
        keys += [setter(ex.search, word[:k]) for k in range(1, len(word) + 1)]
        keys.append(setter(ex.search, ""))
    search_stats = timed(keys)

    # sort changes on the full catalog
    sort_keys = [v for _, v in ex.sort_by.options]
    sorts = [setter(ex.sort_by, sort_keys[i % len(sort_keys)]) for i in range(n)]
    sorts += [setter(ex.ascending, i % 2 == 1) for i in range(n)]
    sort_stats = timed(sorts)

    # detail selection: summary, evidence, references and the neighbourhood drawing
    ex.sort_by.value = "name"
    ids = ex.current_ids
    step = max(len(ids) // n, 1)
    select_stats = timed([setter(ex.select, ids[(i * step) % len(ids)]) for i in range(n)])

    # plot tabs: drawn when shown; redrawn after a filter change while visible
    ex.tabs.selected_index = 0
    cats = list(S.CATEGORIES)

    def show_crosswalk(i: int) -> Callable[[], None]:
        def act() -> None:
            ex.tabs.selected_index = 0
            ex.category.value = (cats[i % len(cats)],)
            ex.tabs.selected_index = 2

        return act

    crosswalk_stats = timed([show_crosswalk(i) for i in range(n)])
    ex.category.value = ()
    ex.tabs.selected_index = 3
    views = [v for _, v in ex.savings_view.options]
    savings_stats = timed([setter(ex.savings_view, views[(i + 1) % len(views)]) for i in range(n)])

    interactive = {"filter_change": filter_stats, "search_keystroke": search_stats, "sort_change": sort_stats}
    result = {
        "benchmark": "ui_explorer",
        "n_techniques": len(cat),
        "repeats": n,
        "explorer_build_ms": build_ms,
        "filter_change": filter_stats,
        "evidence_toggle": evidence_stats,
        "search_keystroke": search_stats,
        "sort_change": sort_stats,
        "detail_select_with_graph": select_stats,
        "crosswalk_tab_draw": crosswalk_stats,
        "savings_view_draw": savings_stats,
        "target_ms": TARGET_MS,
        "meets_target": all(s["median_ms"] < TARGET_MS for s in interactive.values()),
        "note": "kernel-side handler time only (no comm/browser); the CPU may be shared, see load_average",
        "load_average": os.getloadavg(),
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ui.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
