"""Benchmark: can a busy machine fool the measurement? The engine against the old sequential method.

For two models - the digits CNN (``advisor.examples.digits_model``) and a 22M-parameter BERT-style
encoder built from a ``transformers.BertConfig`` (random weights, nothing downloaded) - two
techniques each are measured:

(a) ``--quiet-runs`` times (default 3) on the machine as it is ("quiet"); the quiet reference is the
    median of those runs' medians (a single quiet run varies by several per cent from run to run on a
    VM, which would count against every noisy run), and
(b) ``--noisy-runs`` times (default 3) while a background process switches a busy loop on and off
    at random intervals of 1-4 s (seeded).

Each measurement is taken twice, by:

* the **engine**: ``advisor.measure()`` - interleaved paired rounds, the median per-round ratio
  with its 95 % interval and verdict. All runs go to one store, as a user's would: from the third run
  of a model its interval includes the run-to-run spread learnt from the runs before it (the quiet
  runs come first); the run's own (within-run) interval is scored as well;
* the **old sequential method**, reproduced here: the baseline timed alone with
  ``advisor.measurement.harness.benchmark`` until its budget share is spent, then each variant
  alone; speed-up = baseline median / variant median (no interval).

Targets (issue 9): every noisy engine interval contains the quiet median speed-up, or the result is
``inconclusive``; the median absolute error of the noisy speed-ups is at most 10 % of the quiet one.
The same error is reported for the sequential method side by side. Writes
``benchmarks/results/noise.json``.

    python benchmarks/bench_noise.py [--quick] [--budget-s S] [--noisy-runs N] [--shared]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from _bench_common import add_common_args, machine_info, versions, write_result

from advisor.measurement.appliers import apply_technique
from advisor.measurement.harness import benchmark
from advisor.measurement.run import measure
from advisor.measurement.store import ResultStore


# --- the background noise ------------------------------------------------------------------------------
def _noise(stop: Any, seed: int, lo: float, hi: float) -> None:
    """Busy loop on for a random 1-4 s, off for a random 1-4 s, until ``stop`` is set."""
    rng = random.Random(seed)
    busy = rng.random() < 0.5
    while not stop.is_set():
        until = time.perf_counter() + rng.uniform(lo, hi)
        if busy:
            x = 0
            while time.perf_counter() < until and not stop.is_set():
                x += 1
        else:
            stop.wait(max(until - time.perf_counter(), 0))
        busy = not busy


class Noise:
    """A background process toggling a busy loop at random intervals (context manager)."""

    def __init__(self, seed: int, lo: float = 1.0, hi: float = 4.0) -> None:
        ctx = mp.get_context("spawn")
        self.stop = ctx.Event()
        self.proc = ctx.Process(target=_noise, args=(self.stop, seed, lo, hi), daemon=True)

    def __enter__(self) -> Noise:
        self.proc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.proc.join(timeout=10)


# --- models ---------------------------------------------------------------------------------------------------
def bert_encoder(quick: bool) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...], str]:
    """A BERT-style encoder of ~22M parameters from a config (MiniLM-L6-like shape), random weights."""
    from transformers import BertConfig, BertModel

    cfg = BertConfig(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536,
                     vocab_size=30522, max_position_embeddings=512)  # fmt: skip
    torch.manual_seed(0)
    model = BertModel(cfg).eval()
    n = sum(p.numel() for p in model.parameters())
    seq = 64 if quick else 128
    ids = torch.randint(0, cfg.vocab_size, (8, seq))
    return (
        model,
        (ids,),
        f"BertModel from BertConfig(hidden 384, 6 layers, 12 heads): {n / 1e6:.1f}M parameters, batch 8 x {seq} tokens",
    )


def models(quick: bool) -> dict[str, tuple[Any, Any, list[str], str]]:
    """Name -> (model, inputs, techniques, description)."""
    from advisor.examples import digits_model

    cnn, x, _ = digits_model()
    enc, ids, desc = bert_encoder(quick)
    return {
        "digits-cnn": (cnn, x, ["post-training-dynamic-quantization", "channels-last-memory-format"],
                       "digits CNN (advisor.examples.digits_model)"),
        "bert-encoder-22m": (enc, ids, ["post-training-dynamic-quantization", "inference-mode-and-no-grad"], desc),
    }  # fmt: skip


# --- the two methods -------------------------------------------------------------------------------------------
def engine(model: Any, inputs: Any, techniques: list[str], budget_s: float, store: ResultStore) -> dict[str, Any]:
    run = measure(model, inputs, techniques, budget_s=budget_s, store=store, progress=False)
    out: dict[str, Any] = {"run_id": run.run_id, "rounds": len(run.rounds), "load": run.meta.get("load"),
                           "allocator": run.meta.get("allocator")}  # fmt: skip
    for r in run.results:
        c = r.comparison
        if r.status != "ok" or c is None or c.latency_ratio is None:
            out[r.technique] = {"status": r.status, "reason": r.reason}
            continue
        s = c.speedup
        own = c.latency_within_run.inverted() if c.latency_within_run else s
        er = c.energy_ratio.median if c.energy_ratio else None
        rr = c.latency_run_to_run
        out[r.technique] = {"speedup": s.median, "low": s.low, "high": s.high, "verdict": c.verdict,
                            "own_low": own.low, "own_high": own.high, "contended": c.contended,
                            "run_to_run": rr.to_dict() if rr else None,
                            "n_rounds": s.n_rounds, "rounds_set_aside": c.rounds_set_aside, "energy_ratio": er,
                            "note": c.note}  # fmt: skip
    return out


def sequential(model: Any, inputs: Any, techniques: list[str], budget_s: float) -> dict[str, Any]:
    """The old method: the baseline timed alone first, then each variant alone; ratio of medians."""
    from advisor.measurement.appliers import Applied, no_grad_eval

    ins = inputs if isinstance(inputs, tuple) else (inputs,)
    share = budget_s / (len(techniques) + 1)
    base = benchmark(Applied(model, ins, no_grad_eval), budget_s=share, min_time_s=share / 2)
    out: dict[str, Any] = {}
    for tid in techniques:
        try:
            applied = apply_technique(tid, model, ins)
        except Exception as exc:  # noqa: BLE001 - recorded
            out[tid] = {"status": "not-applicable", "reason": str(exc)}
            continue
        try:
            t = benchmark(applied, budget_s=share, min_time_s=share / 2)
        finally:
            applied.restore()
        out[tid] = {"speedup": base.latency_ms_median / t.latency_ms_median}
    return out


# --- figures ----------------------------------------------------------------------------------------------------
def _median_of(runs: list[dict[str, Any]], method: str, tid: str) -> float | None:
    xs = [r[method].get(tid, {}).get("speedup") for r in runs]
    xs = [x for x in xs if x]
    return statistics.median(xs) if xs else None


def _holds(e: dict[str, Any], q: float) -> bool:
    return e.get("verdict") == "inconclusive" or (e.get("low") is not None and e["low"] <= q <= e["high"])


def _own_holds(e: dict[str, Any], q: float) -> bool:
    """The same for the run's own (within-run) interval, before the run-to-run spread widened it."""
    lo, hi = e.get("own_low", e.get("low")), e.get("own_high", e.get("high"))
    return bool(e.get("contended")) or (lo is not None and lo <= q <= hi)


def score(quiet_runs: list[dict[str, Any]], noisy: list[dict[str, Any]], techniques: list[str]) -> dict[str, Any]:
    """Per technique: does every noisy interval hold the quiet median (or say inconclusive); relative errors.

    The quiet reference is the median over the quiet runs; the first quiet run alone is scored too.
    """
    out = {}
    for tid in techniques:
        q = _median_of(quiet_runs, "engine", tid)
        qs = _median_of(quiet_runs, "sequential", tid)
        first = quiet_runs[0]["engine"].get(tid, {}).get("speedup")
        row: dict[str, Any] = {"quiet_engine_speedup": q, "quiet_sequential_speedup": qs,
                               "quiet_engine_runs": [r["engine"].get(tid, {}) for r in quiet_runs],
                               "quiet_sequential_runs": [r["sequential"].get(tid, {}).get("speedup")
                                                         for r in quiet_runs]}  # fmt: skip
        eng = [n["engine"].get(tid, {}) for n in noisy]
        seq = [n["sequential"].get(tid, {}) for n in noisy]
        if q:
            row["noisy_intervals_hold_quiet_or_inconclusive"] = [_holds(e, q) for e in eng]
            row["noisy_within_run_intervals_hold_quiet_or_contended"] = [_own_holds(e, q) for e in eng]
            first_ok = [_holds(e, first) for e in eng] if first else []
            row["noisy_intervals_hold_first_quiet_run_or_inconclusive"] = first_ok
            row["quiet_intervals_hold_quiet_median"] = [_holds(r["engine"].get(tid, {}), q) for r in quiet_runs]
            errs = [abs(e["speedup"] / q - 1) for e in eng if e.get("speedup")]
            row["engine_noisy_rel_errors"] = errs
            row["engine_median_abs_rel_error"] = statistics.median(errs) if errs else None
        if qs:
            errs = [abs(s["speedup"] / qs - 1) for s in seq if s.get("speedup")]
            row["sequential_noisy_rel_errors"] = errs
            row["sequential_median_abs_rel_error"] = statistics.median(errs) if errs else None
        row["noisy_engine"] = [{k: e.get(k) for k in ("speedup", "low", "high", "own_low", "own_high", "verdict",
                                                      "n_rounds", "rounds_set_aside", "run_to_run")}
                               for e in eng]  # fmt: skip
        row["noisy_sequential"] = [s.get("speedup") for s in seq]
        out[tid] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--budget-s", type=float, default=None, help="budget of each measurement (default 30, quick 5)")
    ap.add_argument("--noisy-runs", type=int, default=3, help="measurements under background noise (default 3)")
    ap.add_argument("--quiet-runs", type=int, default=3, help="measurements on the quiet machine (default 3)")
    ap.add_argument("--store", default=None, help="keep every run's rounds in this SQLite store (default: a temp one)")
    ap.add_argument("--models", default=None, help="comma-separated subset of: digits-cnn,bert-encoder-22m")
    args = ap.parse_args()
    budget_s = args.budget_s or (5.0 if args.quick else 30.0)
    results: dict[str, Any] = {}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-noise-") as tmp:
        store = ResultStore(Path(args.store) if args.store else Path(tmp) / "results.sqlite")
        for name, (model, inputs, techniques, desc) in models(args.quick).items():
            if args.models and name not in args.models.split(","):
                continue
            quiet = [{"engine": engine(model, inputs, techniques, budget_s, store),
                      "sequential": sequential(model, inputs, techniques, budget_s)}
                     for _ in range(max(1, args.quiet_runs))]  # fmt: skip
            noisy = []
            for i in range(args.noisy_runs):
                with Noise(seed=i):
                    noisy.append({"engine": engine(model, inputs, techniques, budget_s, store),
                                  "sequential": sequential(model, inputs, techniques, budget_s)})  # fmt: skip
            results[name] = {"description": desc, "techniques": techniques, "quiet": quiet, "noisy": noisy,
                             "scores": score(quiet, noisy, techniques)}  # fmt: skip
    all_hold = [ok for m in results.values() for s in m["scores"].values()
                for ok in s.get("noisy_intervals_hold_quiet_or_inconclusive", [])]  # fmt: skip
    own_hold = [ok for m in results.values() for s in m["scores"].values()
                for ok in s.get("noisy_within_run_intervals_hold_quiet_or_contended", [])]  # fmt: skip
    first_hold = [ok for m in results.values() for s in m["scores"].values()
                  for ok in s.get("noisy_intervals_hold_first_quiet_run_or_inconclusive", [])]  # fmt: skip
    errs = [s.get("engine_median_abs_rel_error") for m in results.values() for s in m["scores"].values()]
    seq_errs = [s.get("sequential_median_abs_rel_error") for m in results.values() for s in m["scores"].values()]
    result = {
        "benchmark": "noise",
        "quick": args.quick,
        "settings": {
            "budget_s_per_measurement": budget_s,
            "noisy_runs": args.noisy_runs,
            "quiet_runs": max(1, args.quiet_runs),
            "quiet_reference": "median over the quiet runs of each run's median speed-up",
            "noise": "one background process, busy loop toggled on/off at random 1-4 s intervals (seeded)",
            "history": "one store for the whole benchmark: each run's interval includes the run-to-run spread "
            "learnt from the runs before it (quiet runs first); the within-run intervals are scored too",
            "torch_threads": torch.get_num_threads(),
        },
        "targets": {
            "every_noisy_interval_holds_quiet_median_or_inconclusive": all(all_hold) if all_hold else None,
            "noisy_intervals_holding_quiet_median_or_inconclusive": f"{sum(all_hold)} of {len(all_hold)}",
            "noisy_intervals_holding_first_quiet_run_or_inconclusive": f"{sum(first_hold)} of {len(first_hold)}",
            "noisy_within_run_intervals_holding_quiet_median": f"{sum(own_hold)} of {len(own_hold)}",
            "engine_median_abs_rel_error_max": max((e for e in errs if e is not None), default=None),
            "engine_target_10pct_met": all(e is not None and e <= 0.10 for e in errs) if errs else None,
            "sequential_median_abs_rel_error_max": max((e for e in seq_errs if e is not None), default=None),
        },
        "models": results,
        "wall_s": time.perf_counter() - t_start,
        "versions": versions("torch", "transformers"),
        "machine": machine_info(args.shared),
    }
    write_result(args.out, "noise", result)


if __name__ == "__main__":
    main()
