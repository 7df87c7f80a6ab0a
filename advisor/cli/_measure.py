"""Sub-commands that measure on this machine: measure, measure-training, sweep, regions, history.

Every measurement prints each variant's verdict with its 95 % interval, e.g. ``1.42x faster (1.35-1.50)``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from advisor.cli._app import command, out, output_path

__all__ = ["add_parsers"]


def _ids(text: str | None, what: str) -> list[str] | None:
    """Comma-separated ids; an empty list is bad input (exit 2)."""
    from advisor._errors import ConstraintError

    if text is None:
        return None
    ids = [t.strip() for t in text.split(",") if t.strip()]
    if not ids:
        raise ConstraintError(
            f"--techniques: expected one or more {what} ids separated by commas, got {text!r}; "
            "e.g. --techniques torch-compile,post-training-dynamic-quantization"
        )
    return ids


def _check_numbers(args: argparse.Namespace) -> None:
    """Budget and TDP must be positive: one line and exit 2, before anything is built."""
    from advisor._errors import ConstraintError

    if args.budget_s is not None and not args.budget_s > 0:
        raise ConstraintError(
            f"--budget-s: expected a positive number of seconds, got {args.budget_s:g}; e.g. --budget-s 60"
        )
    if getattr(args, "tdp_w", None) is not None and not args.tdp_w > 0:
        raise ConstraintError(
            f"--tdp-w: expected the CPU's TDP in watts (> 0), got {args.tdp_w:g}; e.g. --tdp-w 65, "
            "or leave it out for the default per-thread power"
        )


def _fmt(v: Any, spec: str = ".4g") -> str:
    return "-" if v is None else format(v, spec)


def _energy_cell(row: dict[str, Any]) -> str:
    if row.get("energy_ratio_low") is None:
        return _fmt(row.get("energy_ratio"), ".2f") if row.get("energy_ratio") is not None else "-"
    return f"x{row['energy_ratio']:.2f} ({row['energy_ratio_low']:.2f}-{row['energy_ratio_high']:.2f})"


_SHORT = {
    "top1_agreement": "top-1",
    "token_agreement": "tokens",
    "cosine_similarity": "cosine",
    "relative_error": "rel err",
}


def _quality_cell(r: dict[str, Any]) -> str:
    """The deciding quality figure of a result row and its status, e.g. ``top-1 0.984 ok``, ``acc -0.30 pp FAIL``."""
    status = {"verified": "ok", "failed": "FAIL", "unverified": "unverified"}.get(r.get("quality_status") or "", "")
    if r.get("accuracy_change") is not None:
        return f"acc {r['accuracy_change']:+.2f} pp {status}".strip()
    for key, short in _SHORT.items():
        if r.get(key) is not None:
            return f"{short} {r[key]:.4g} {status}".strip()
    if r.get("loss_change") is not None:
        return f"loss {r['loss_change']:+.3g}"
    return status or "-"


def results_text(run: Any) -> str:
    """The run as a fixed-width table: each variant's verdict with its interval, energy ratio, quality."""
    from advisor.measurement import result_row

    rows = [result_row(r) for r in run.all_results()]
    lines = [
        f"{'variant':<40} {'time/call ms':>12} {'speed (95% interval)':<44} {'energy ratio (95%)':<20} "
        f"{'quality':<22} {'predicted':<11} outside"
    ]
    for r, obj in zip(rows, run.all_results(), strict=True):
        q = _quality_cell(r)
        pred = "-"
        if r.get("predicted_low") is not None:
            pred = f"{r['predicted_low']:.2f}-{r['predicted_high']:.2f}"
        outside = {True: "OUTSIDE", False: "inside", None: "-"}[r.get("outside_prediction")]
        speed = r["comparison"] or "-"
        if obj.status not in ("ok", "interrupted") or (obj.status == "interrupted" and obj.timing is None):
            lines.append(f"{r['technique']:<40} {obj.status}: {obj.reason}")
            continue
        lines.append(
            f"{r['technique']:<40} {_fmt(r['latency_ms'], '>12.4g')} {speed:<44} {_energy_cell(r):<20} "
            f"{q:<22} {pred:<11} {outside}"
        )
        if r.get("quality_status") in ("failed", "unverified") and r["technique"] != "baseline":
            lines.append(f"{'':<40} quality {r['quality_status'].upper()}: {r.get('quality_reason')}")
    notes = [
        f"  {obj.technique}: {obj.comparison.note}"
        for obj in run.results
        if getattr(obj, "comparison", None) is not None and obj.comparison.note
    ]
    if notes:
        lines += ["notes:", *notes]
    held = (run.meta or {}).get("quality_inputs")
    if held:
        lines.append(f"quality: each variant against the original on {held}")
    lines.append(
        "speed: median speed-up over paired rounds against the baseline, with its 95 % interval; 'faster'/"
        "'slower' when the interval excludes 1; energy ratio: variant / baseline (< 1 saves energy), "
        "same rounds and estimator"
    )
    return "\n".join(lines)


@command("measure")
def _measure(args: argparse.Namespace) -> int:
    from advisor.measurement.carbon import get_intensity, resolve_region, what_if
    from advisor.profile.spec import load_spec
    from advisor.tuning import measure

    _check_numbers(args)
    ids = _ids(args.techniques, "technique")
    if ids is not None:  # an unknown id fails with suggestions before the model is built
        from advisor.catalog import load_catalog
        from advisor.measurement.run import check_variant_ids

        check_variant_ids(ids, load_catalog())
    region = resolve_region(args.region)
    if region:  # a typo in --region / --what-if / --pue fails before the model is built
        get_intensity(region)
    what_if(0.0, [r.strip() for r in (args.what_if or "").split(",") if r.strip()], args.pue)
    json_out, save_dir = output_path(args.out, "--out"), output_path(args.save, "--save", folder=True)
    loaded = load_spec(args.model)
    run = measure(
        loaded.model,
        loaded.inputs,
        ids if ids is not None else "recommended",
        eval_fn=loaded.eval_fn,
        top=args.recommended,
        budget_s=args.budget_s,
        store=args.store,
        tdp_w=args.tdp_w,
        progress=args.format == "table",
        region=args.region,
        pue=args.pue,
        what_if=[r.strip() for r in args.what_if.split(",") if r.strip()] if args.what_if else None,
    )
    if json_out:
        json_out.write_text(run.to_json(), encoding="utf-8")
    saved = _save_winner(run, save_dir) if save_dir else None
    if args.format == "json":
        out(run.to_json())
        return 0 if run.status == "finished" else 130
    out(results_text(run))
    if saved:
        out(saved)
    return _run_footer(run, args.out)


def _save_winner(run: Any, directory: Path) -> str:
    """Save the fastest variant whose quality is verified (``--save DIR``); the line to print."""
    from advisor.measurement.quality import judge_quality

    ok = [
        r
        for r in run.results
        if r.status == "ok" and r.comparison is not None and judge_quality(r.quality).status == "verified"
    ]
    faster = [r for r in ok if r.comparison.verdict == "faster" and r.comparison.latency_ratio is not None]
    if not faster:
        return "--save: nothing saved: no variant was significantly faster than the baseline with its quality verified"
    best = min(faster, key=lambda r: r.comparison.latency_ratio.median)
    art = run.save(best.technique, directory)
    return f"saved {best.technique} ({art.format}) in {art.directory}; run it: python {art.snippet}"


def _run_footer(run: Any, json_path: str | None) -> int:
    """What every measurement command prints under its table: carbon, estimate and load warnings, where it is kept.

    Returns:
        The exit code: 0 for a finished run, 130 for an interrupted one.
    """
    if run.carbon:
        out("\n".join(run.carbon.lines()))
    methods = {r.timing.energy_method for r in run.all_results() if r.timing}
    if any(m and m.startswith("estimated") for m in methods):
        out("energy: ESTIMATED (no RAPL/NVML counter readable here): " + "; ".join(run.meter_descriptions))
    load = run.meta.get("load") or {}
    if load.get("note"):
        out("WARNING: " + load["note"])
    rounds = len(run.rounds)
    waited = run.meta.get("lock_waited_s")
    wait_text = f"; waited {waited:.1f} s for another measurement" if waited else ""
    out(f"{rounds} paired rounds{wait_text}")
    out(f"run {run.run_id} ({run.status}) saved in {run.store_path}" + (f"; JSON: {json_path}" if json_path else ""))
    out(f"report: green-advisor report --run {run.run_id} --store {run.store_path} --out report/")
    return 0 if run.status == "finished" else 130


@command("measure-training")
def _measure_training(args: argparse.Namespace) -> int:
    from advisor.measurement.training import DEFAULT_TECHNIQUES, measure_training
    from advisor.profile.spec import load_spec

    _check_numbers(args)
    techniques = _ids(args.techniques, "training technique") or list(DEFAULT_TECHNIQUES)
    json_out = output_path(args.out, "--out")
    loaded = load_spec(args.model)  # factories return no targets: the default loss is used
    run = measure_training(
        loaded.model,
        loaded.inputs,
        techniques=techniques,
        steps_per_epoch=args.steps_per_epoch,
        epochs=args.epochs,
        budget_s=args.budget_s,
        store=args.store,
        region=args.region,
        pue=args.pue,
        tdp_w=args.tdp_w,
        progress=args.format == "table",
    )
    if json_out:
        json_out.write_text(run.to_json(), encoding="utf-8")
    if args.format == "json":
        out(run.to_json())
        return 0 if run.status == "finished" else 130
    out(results_text(run))
    lines = [f"{'variant':<28} {'peak MiB':>9} {'mem ratio':>9} {'projected h':>12} {'kWh':>10} {'gCO2e':>10}"]
    for r in run.all_results():
        p = r.projection
        lines.append(
            f"{r.technique:<28} {_fmt(r.peak_memory_mib, '>9.4g')} {_fmt(r.peak_memory_ratio, '>9.3f')} "
            f"{_fmt(p.time_s / 3600 if p else None, '>12.4g')} {_fmt(p.energy_kwh if p else None, '>10.3g')} "
            f"{_fmt(p.co2e_g if p else None, '>10.4g')}"
        )
    out("\n".join(lines))
    m = run.meta
    out(
        f"projection: {m['steps_per_epoch']} steps/epoch x {m['epochs']} epochs = {m['steps']} steps of the "
        f"example batch (no data loading, no evaluation); loss: {m['loss']}"
    )
    return _run_footer(run, args.out)


@command("regions")
def _regions(args: argparse.Namespace) -> int:
    from advisor.measurement.carbon import search_regions

    rows = search_regions(args.search)
    if args.format == "json":
        out(json.dumps([r.to_dict() for r in rows], indent=2))
        return 0
    if args.format == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["region", "kind", "name", "g_co2e_per_kwh", "year", "source"])
        w.writerows([r.region, r.kind, r.name, f"{r.g_co2e_per_kwh:g}", r.year, r.source] for r in rows)
        out(buf.getvalue().rstrip("\n"))
        return 0
    if not rows:
        out(f"no region matches {args.search!r}; try a country name, ISO3 code or provider (e.g. gcp)")
        return 0
    lines = [f"{'region':<28} {'name':<44} {'gCO2e/kWh':>9} {'year':>4}  source"]
    lines += [f"{r.region:<28} {r.name[:44]:<44} {r.g_co2e_per_kwh:>9g} {r.year:>4}  {r.source}" for r in rows]
    lines.append(f"{len(rows)} region(s); annual averages; use an id with `measure --region ID`. See docs/carbon.md.")
    out("\n".join(lines))
    return 0


@command("sweep")
def _sweep(args: argparse.Namespace) -> int:
    from advisor._errors import ConstraintError
    from advisor.measurement.sweep import batch_sweep
    from advisor.profile.spec import load_spec

    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        msg = f"--sizes: expected comma-separated integers such as 1,8,32, got {args.sizes!r}"
        raise ConstraintError(msg) from None
    _check_numbers(args)
    loaded = load_spec(args.model)
    rows = batch_sweep(
        loaded.model, loaded.inputs, sizes, budget_s=args.budget_s, tdp_w=args.tdp_w, progress=args.format == "table"
    )
    if args.format == "json":
        out(json.dumps([r.to_dict() for r in rows], indent=2))
        return 0

    def f(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    lines = [
        f"{'batch':>6} {'status':<14} {'latency_ms':>11} {'iqr_ms':>8} {'ms/item':>9} {'items/s':>10} "
        f"{'J/item':>10} {'peak_MiB':>9} {'act_MiB':>8}  per item vs the smallest batch (95% interval)"
    ]
    for r in rows:
        c = r.comparison
        vs = f"{c.text()}; {c.energy_text()}" if c else ("baseline" if r.status == "ok" else "")
        lines.append(
            f"{r.batch_size:>6} {r.status:<14} {f(r.latency_ms_median, '.3f'):>11} {f(r.latency_ms_iqr, '.3f'):>8} "
            f"{f(r.latency_ms_per_item, '.4f'):>9} {f(r.throughput_per_s, '.1f'):>10} "
            f"{f(r.energy_j_per_item, '.3g'):>10} {f(r.peak_memory_mib, '.0f'):>9} "
            f"{f(r.activation_mib, '.2f'):>8}  {vs}"
        )
        if r.reason:
            lines.append(f"       {r.reason}")
    methods = sorted({r.energy_method for r in rows if r.energy_method})
    if methods:
        estimated = any(m.startswith("estimated") for m in methods)
        est = " (ESTIMATED: no RAPL/NVML counter readable here)" if estimated else ""
        lines.append(f"energy: {', '.join(methods)}{est}")
    mem = sorted({r.memory_method for r in rows if r.memory_method})
    if mem:
        lines.append(f"peak memory: {', '.join(mem)}; act_MiB: leaf-module outputs of one forward pass")
    out("\n".join(lines))
    return 0


@command("history")
def _history(args: argparse.Namespace) -> int:
    from advisor.measurement.store import ResultStore

    store = ResultStore(args.store)
    if args.run:
        run = store.load_run(args.run)  # an unknown id is a StoreError: one line, exit 2
        if args.format == "json":
            out(run.to_json())
        elif run.kind == "generation":
            from advisor.reports import generation_markdown

            out(f"run {run.run_id} ({run.status}, generation) from {store.path}")
            out(generation_markdown(run))
        else:
            out(f"run {run.run_id} ({run.status}, {run.kind}) from {store.path}")
            out(results_text(run))
        return 0
    runs = store.runs(args.limit)
    if not runs:
        out(f"no runs in {store.path}")
        return 0
    import datetime as dt

    out(f"{'run id':<24} {'started':<16} {'status':<11} {'kind':<8} {'model':<20} results")
    for r in runs:
        when = dt.datetime.fromtimestamp(r["started_at"]).strftime("%Y-%m-%d %H:%M")
        out(f"{r['run_id']:<24} {when:<16} {r['status']:<11} {r['kind']:<8} {r['model_name']:<20} {r['n_results']}")
    out("show one: green-advisor history --run RUN_ID; report one: green-advisor report --run RUN_ID --out DIR")
    return 0


def add_parsers(sub: Any, add: Any) -> None:
    """Add this group's sub-command parsers."""
    me = add("measure", "apply techniques to your model and measure time, energy and quality here")
    me.add_argument("--model", required=True, metavar="SPEC", help="'module:factory' or 'path/file.py:factory'")
    me.add_argument("--techniques", metavar="A,B", help="technique ids to measure (default: the recommended ones)")
    me.add_argument("--recommended", type=int, default=5, metavar="N", help="measure the top N recommendations")
    me.add_argument(
        "--budget-s", type=float, default=120.0, help="seconds for measuring the baseline and techniques (not set-up)"
    )
    me.add_argument("--store", metavar="PATH", help="SQLite results store (default ~/.local/share/green-advisor)")
    me.add_argument("--tdp-w", type=float, metavar="W", help="CPU TDP for the energy estimate when RAPL is unreadable")
    me.add_argument("--out", metavar="FILE", help="also write the results as JSON")
    me.add_argument("--save", metavar="DIR", help="save the fastest variant that keeps fidelity, with load_and_run.py")
    me.add_argument("--format", choices=["table", "json"], default="table")
    me.add_argument(
        "--region",
        metavar="R",
        help="where the energy is drawn, for CO2e: FRA, US-CA, gcp:europe-west1 "
        "(default $GREEN_ADVISOR_REGION; list with `green-advisor regions`)",
    )
    me.add_argument("--pue", type=float, default=1.0, metavar="P", help="data-centre PUE (>= 1.0; 1.0 for a desktop)")
    me.add_argument("--what-if", metavar="R1,R2", help="also show the CO2e in these regions")

    mt = add("measure-training", "time training techniques per step and project a whole run's time, energy, CO2e")
    mt.add_argument("--model", required=True, metavar="SPEC", help="'module:factory' or 'path/file.py:factory'")
    mt.add_argument("--steps-per-epoch", type=int, required=True, metavar="N", help="optimizer steps per epoch")
    mt.add_argument("--epochs", type=int, required=True, metavar="E", help="epochs of the run to project")
    mt.add_argument("--techniques", metavar="A,B", help="training technique ids (default: all with an applier)")
    mt.add_argument("--budget-s", type=float, default=60.0, help="time budget for the measurements, in seconds")
    mt.add_argument("--store", metavar="PATH", help="SQLite results store (default ~/.local/share/green-advisor)")
    mt.add_argument("--region", metavar="R", help="where the energy is drawn, for CO2e (default $GREEN_ADVISOR_REGION)")
    mt.add_argument("--pue", type=float, default=1.0, metavar="P", help="data-centre PUE (>= 1.0; 1.0 for a desktop)")
    mt.add_argument("--tdp-w", type=float, metavar="W", help="CPU TDP for the energy estimate when RAPL is unreadable")
    mt.add_argument("--out", metavar="FILE", help="also write the results as JSON")
    mt.add_argument("--format", choices=["table", "json"], default="table")

    rg = add("regions", "list the carbon-intensity table: region id, name, gCO2e/kWh, year, source")
    rg.add_argument("--search", metavar="TEXT", help="keep rows whose id, name, kind or country contain every word")
    rg.add_argument("--format", choices=["table", "json", "csv"], default="table")

    sw = add("sweep", "time your model at several batch sizes: latency, throughput, energy per item, memory")
    sw.add_argument("--model", required=True, metavar="SPEC", help="'module:factory' or 'path/file.py:factory'")
    sw.add_argument("--sizes", default="1,8,32,128", metavar="A,B", help="batch sizes (default 1,8,32,128)")
    sw.add_argument("--budget-s", type=float, default=30.0, help="time budget for the whole sweep, in seconds")
    sw.add_argument("--tdp-w", type=float, metavar="W", help="CPU TDP for the energy estimate when RAPL is unreadable")
    sw.add_argument("--format", choices=["table", "json"], default="table")

    h = add("history", "list past measurement runs with their ids (or one run's results with --run ID)")
    h.add_argument("--store", metavar="PATH", help="SQLite results store (default ~/.local/share/green-advisor)")
    h.add_argument("--run", metavar="ID", help="show this run's results")
    h.add_argument("--limit", type=int, default=20)
    h.add_argument("--format", choices=["table", "json"], default="table")
