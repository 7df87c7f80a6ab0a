"""Run every measurement benchmark, one subprocess each, then write ``<out>/summary.md`` from their JSON.

    python benchmarks/run_all.py [--quick] [--shared] [--threads N] [--out DIR] [--only meter_overhead,int8,...]
    python benchmarks/run_all.py --summary-only   # rebuild summary.md from the JSON already in --out

The default runs take about 3 minutes each on a 2-core CPU; ``--quick`` about 30-60 s each.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _bench_common import RESULTS

HERE = Path(__file__).parent
SCRIPTS = {
    "meter_overhead": "bench_meter_overhead.py",
    "repeatability": "bench_repeatability.py",
    "int8": "bench_int8.py",
    "memory": "bench_memory.py",
}


def _f(x: Any, fmt: str = ".3g") -> str:
    return "–" if x is None else format(x, fmt)


def _load(out: Path, name: str) -> dict[str, Any] | None:
    path = out / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def summary_md(out: Path) -> str:
    """A Markdown summary of the result files in ``out`` (missing ones are listed as not run)."""
    lines = ["# Measurement benchmarks: summary", ""]
    shared = []
    d = _load(out, "meter_overhead")
    lines += ["## Meter overhead (target < 1 % of the workload's wall time)", ""]
    if d:
        shared.append(d["machine"].get("shared_machine"))
        lines += [
            f"Workload: {d['settings']['calls_per_workload']} calls, ~{d['settings']['target_workload_s']} s; "
            f"{d['settings']['repeats']} rounds. Noise floor (IQR of the unmeasured loop): "
            f"{d['noise_floor_pct']:.1f} % - target resolvable: {d['target_resolvable']}.",
            "",
            "| variant | workload s (median, IQR) | overhead % (wall) | overhead % (CPU time) | start-up s "
            "(first, later median) | energy J (median) | method |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, v in d["variants"].items():
            w = v["workload_s"]
            lines.append(
                f"| {name} | {w['median']:.3f} ({w['iqr']:.3f}) | {v['overhead_pct']:+.2f} | "
                f"{v['cpu_overhead_pct']:+.2f} | {v['first_use_startup_s']:.3f}, {v['startup_s']['median']:.4f} | "
                f"{_f(v.get('energy_j', {}).get('median'))} | {v.get('energy_method') or '–'} |"
            )
    else:
        lines.append("not run")
    d = _load(out, "repeatability")
    lines += ["", "## Repeatability of advisor.measure() (CV across identical runs)", ""]
    if d:
        shared.append(d["machine"].get("shared_machine"))
        lines += [
            f"{d['settings']['runs_per_model']} runs per model, budget_s {d['settings']['budget_s_per_measure']}.",
            "",
            "| model | technique | runs ok | median latency ms | CV latency | CV energy/call | CV speed-up |",
            "|---|---|---|---|---|---|---|",
        ]
        for model, m in d["models"].items():
            for tech, t in m["techniques"].items():
                lines.append(
                    f"| {model} | {tech} | {t['runs_ok']} | {_f(t['latency_ms_median'].get('median'))} | "
                    f"{_f(t['cv_latency'], '.1%') if t['cv_latency'] is not None else '–'} | "
                    f"{_f(t['cv_energy'], '.1%') if t['cv_energy'] is not None else '–'} | "
                    f"{_f(t['cv_speedup'], '.1%') if t['cv_speedup'] is not None else '–'} |"
                )
    else:
        lines.append("not run")
    d = _load(out, "int8")
    lines += ["", "## int8 paths: speed-up vs torch fp32 and fidelity", ""]
    if d:
        shared.append(d["machine"].get("shared_machine"))
        lines += [
            "| model | variant | status | latency ms (median, IQR) | speed-up | max abs err | top-1 agree | "
            "accuracy change pp |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for model, m in d["models"].items():
            for name, v in m["variants"].items():
                if v["status"] != "ok":
                    lines.append(f"| {model} | {name} | {v['status']}: {v.get('reason', '')[:90]} | | | | | |")
                    continue
                fid = v.get("fidelity") or {}
                lines.append(
                    f"| {model} | {name} | ok | {v['latency_ms_median']:.2f} ({v['latency_ms_iqr']:.2f}) | "
                    f"{v['speedup_vs_torch_fp32']:.2f}x | {_f(fid.get('max_abs_error'))} | "
                    f"{_f(fid.get('top1_agreement'))} | {_f(v.get('accuracy_change_pp'))} |"
                )
    else:
        lines.append("not run")
    d = _load(out, "memory")
    lines += ["", "## Peak memory of advisor.measure() (target <= 3x the model's size above the pre-run RSS)", ""]
    if d:
        shared.append(d["machine"].get("shared_machine"))
        lines += [
            f"{d['model']} - {d['n_parameters'] / 1e6:.1f}M parameters, {d['model_mib']:.0f} MiB; "
            f"techniques: {d['techniques']}.",
            "",
            f"- peak above baseline: {d['peak_above_baseline_mib']:.0f} MiB = **{d['ratio_to_model_size']:.2f}x** "
            f"the model (meets target: {d['meets_target']}); peak during `{d['peak_step']}`",
            f"- fixed set-up cost (first-use imports, catalog): {d['setup_overhead_mib']:.0f} MiB; above it the peak "
            f"is {d['ratio_above_post_setup']:.2f}x the model",
            "",
            "| step | s | RSS above baseline at start / end / peak (MiB) |",
            "|---|---|---|",
        ]
        for s in d["steps"]:
            lines.append(
                f"| {s['step']} | {s['seconds']:.2f} | {s['start_above_baseline_mib']:.0f} / "
                f"{s['end_above_baseline_mib']:.0f} / {s['peak_above_baseline_mib']:.0f} |"
            )
    else:
        lines.append("not run")
    note = (
        "**Taken while other jobs shared the CPU cores**: timings are noisy; re-run on a quiet machine."
        if any(shared)
        else "No shared-machine flag was set on these runs."
    )
    lines[1:1] = ["", note, f"Generated {time.strftime('%Y-%m-%d %H:%M')} by benchmarks/run_all.py.", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--shared", action="store_true", help="record that other jobs shared the CPU")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the timing benchmarks")
    ap.add_argument("--only", default=",".join(SCRIPTS), help="comma-separated subset (default: all)")
    ap.add_argument("--summary-only", action="store_true", help="only rebuild summary.md")
    args = ap.parse_args()
    failed = []
    if not args.summary_only:
        for name in [n.strip() for n in args.only.split(",") if n.strip()]:
            if name not in SCRIPTS:
                raise SystemExit(f"--only: unknown benchmark {name!r}; expected some of {sorted(SCRIPTS)}")
            cmd = [sys.executable, str(HERE / SCRIPTS[name]), "--out", str(args.out)]
            cmd += ["--quick"] * args.quick + ["--shared"] * args.shared
            if args.threads and name != "memory":
                cmd += ["--threads", str(args.threads)]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            print(f"{name}: exit {proc.returncode} in {time.perf_counter() - t0:.0f} s")
            if proc.returncode:
                failed.append(name)
                print(proc.stderr[-3000:], file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text(summary_md(args.out))
    print(f"written: {args.out / 'summary.md'}")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
