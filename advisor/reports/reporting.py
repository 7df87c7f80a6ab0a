"""The "Reporting" section: how the figures were obtained, as text a paper can quote.

Every sentence is generated from the report data (hardware, versions, meters, timing fields,
carbon block); where the data does not say something, the text says it is not recorded rather
than assuming it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from advisor.reports._facts import RunFacts
from advisor.reports._text import fmt_num

__all__ = ["carbon_facts", "reporting_items", "reporting_statement", "run_rows"]


def run_rows(run: Any) -> list[dict[str, Any]]:
    """One flat row per result of a ``MeasureRun``/``TrainingRun``, the baseline first.

    The rows are :func:`advisor.measurement.result_row`'s, the one flattening of a result that every
    table, plot, form and report reads.
    """
    from advisor.measurement import result_row

    return [result_row(r) for r in run.all_results()] if run is not None else []


def _hardware_text(hw: Any) -> str:
    """A ``HardwareProfile`` in one sentence."""
    if hw is None:
        return "Hardware: not recorded."
    gpu_text = ", ".join(f"{g.name} ({fmt_num(g.memory_gib, '.0f')} GiB)" for g in hw.gpus) or "none"
    mem_text = f"{hw.memory_gib:.1f} GiB RAM" if hw.memory_gib else "RAM not recorded"
    return (
        f"CPU {hw.cpu_model} ({hw.arch}), {hw.physical_cores} physical cores / {hw.logical_cores} hardware "
        f"threads; {mem_text}; GPU: {gpu_text}."
    )


def _versions_text(v: dict[str, Any] | None, source: str) -> str:
    if not v:
        return "Software versions: not recorded."
    parts = [f"{k} {v[k]}" for k in ("python", "torch", "green-dl-advisor") if k in v]
    parts += [f"{k} {val}" for k, val in v.items() if k not in ("python", "torch", "green-dl-advisor")]
    when = "at measurement time" if source == "measurement" else "of the environment that wrote this report"
    return f"Software ({when}): " + ", ".join(parts) + "."


def _methods(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in rows:
        if r["energy_method"]:
            out.setdefault(r["energy_method"], []).append(r["technique"])
    return out


def carbon_facts(m: Any) -> dict[str, Any]:
    """The run's carbon block (a ``CarbonSummary``): region, intensity, year, source, PUE, method, note."""
    c = m.carbon if m is not None else None
    if c is None:
        return {}
    return {
        "region": c.region,
        "region_name": c.name,
        "g_co2e_per_kwh": c.g_co2e_per_kwh,
        "year": c.year,
        "source": c.source,
        "pue": c.pue,
        "co2e_method": c.co2e_method,
        "note": c.note or None,
    }


def _energy_texts(m: Any, rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    items = []
    methods = _methods(rows)
    meters = m.meter_descriptions
    if methods:
        per = "; ".join(f"{k} ({len(v)} of {len(rows)} variants)" for k, v in methods.items())
        items.append(("Energy method per figure", f"{per}. Every energy figure in the tables carries its method."))
    else:
        items.append(("Energy method per figure", "No energy figure was recorded (no meter produced a reading)."))
    if meters:
        items.append(("Energy meter", "; ".join(str(x) for x in meters) + "."))
    if m.unavailable_meters:
        text = "; ".join(f"{k}: {v}" for k, v in m.unavailable_meters.items())
        items.append(("Meters not available", text + "."))
    idle = RunFacts.of(m).idle_power_w
    if idle is not None:
        items.append(
            (
                "Idle power",
                f"{idle:.3g} W, sampled before the runs, was subtracted from the measured (counter) energy; "
                "the figures are energy above idle.",
            )
        )
    else:
        items.append(
            (
                "Idle power",
                "none subtracted: no measuring counter was readable (idle_power_w is null), so there was no idle "
                "reading; estimated figures model this process's activity only.",
            )
        )
    return items


def _repeats_text(m: Any, rows: list[dict[str, Any]]) -> str:
    timed = [r for r in rows if r["repeats"]]
    if not timed:
        return "No variant was timed."
    reps = [r["repeats"] for r in timed]
    stops = Counter(r["stopped_by"] or "?" for r in timed)
    stop_text = ", ".join(f"{k}: {v}" for k, v in sorted(stops.items()))
    facts = RunFacts.of(m)
    budget, stored = facts.budget_s, facts.harness
    settings = stored or _harness_defaults()
    origin = "as recorded in the run"
    if not stored:
        origin = "harness defaults of the installed green-dl-advisor, not stored in the run"
    rule = ""
    if settings.get("engine") == "interleaved-paired-rounds":
        rounds = [r["n_rounds"] for r in timed if r["n_rounds"]]
        n_text = f" ({min(rounds)}-{max(rounds)} paired rounds)" if rounds else ""
        rule = (
            f" Method ({origin}): the baseline and every variant were timed in interleaved rounds{n_text}, each "
            f"variant one block of at least {settings['block_s'] * 1000:g} ms per round in an order shuffled per "
            f"round (seed {settings['seed']}); ratios are per-round ratios against the baseline of the same round, "
            "reported as their median with a distribution-free 95% interval (order statistics); the rounds stop "
            f"once every interval is within {settings['target_rel'] * 100:g}% of its median ('interval') or the "
            "budget runs out ('budget')."
        )
    elif settings:
        rule = (
            f" Stopping rule ({origin}): "
            f"{settings['warmup']} untimed warm-up calls, then at least {settings['min_repeats']} timed calls, "
            f"stopping once the distribution-free 95% confidence interval of the median is within "
            f"{settings['rel_ci'] * 100:g}% of it ('ci') or the per-variant budget runs out ('budget')."
        )
    budget_text = f" Run budget {fmt_num(budget, 'g')} s shared by all variants." if budget is not None else ""
    return (
        f"{len(timed)} variants timed with {min(reps)}-{max(reps)} repeats each; stopped by {stop_text}."
        f"{rule}{budget_text} Latency: median and inter-quartile range (IQR) of per-call wall time."
    )


def _harness_defaults() -> dict[str, Any]:
    try:
        from advisor.measurement.harness import BenchmarkSettings
    except ImportError:  # pragma: no cover - the measure package ships with the core
        return {}
    defaults = BenchmarkSettings()
    return {k: getattr(defaults, k) for k in ("warmup", "min_repeats", "rel_ci")}


def _carbon_text(m: Any, rows: list[dict[str, Any]], *, hint: bool = True) -> str:
    c = m.carbon
    has_rows = any(r["co2e_g_per_call"] is not None or r["co2e_g_per_1k_calls"] is not None for r in rows)
    if (c is None or not c.region) and not has_rows:
        how = " (pass --region to `green-advisor measure`, or region= to measure())" if hint else ""
        return f"CO2e not computed: no region given{how}."
    if c is None:
        return "CO2e per call is in the tables; the run recorded no carbon block (region, intensity, PUE)."
    region = c.region or "?"
    name = f" ({c.name})" if c.name else ""
    inten = c.g_co2e_per_kwh
    inten_text = f"{fmt_num(inten, '.4g')} gCO2e/kWh" if inten is not None else "intensity not recorded"
    src = c.source or "source not recorded"
    year = c.year or "year not recorded"
    pue_text = f"PUE {fmt_num(c.pue, 'g')}" if c.pue is not None else "PUE not recorded"
    note = f" {c.note}" if c.note else " A CO2e figure inherits the method of its energy figure."
    facts_text = f"region {region}{name}: {inten_text} ({src}, {year}); {pue_text}"
    return f"CO2e = energy x PUE x carbon intensity, {facts_text}.{note}"


def _caveats(m: Any, rows: list[dict[str, Any]], hw: Any) -> list[str]:
    out = []
    methods = _methods(rows)
    if any(k.startswith("estimated") for k in methods):
        out.append(
            "Figures labelled estimated-… come from a power model (see Energy meter), not from a counter: they are "
            "estimates, not measurements; use them to compare variants on this machine, not as absolute energy."
        )
    if any("measured-rapl" in k for k in methods):
        out.append(
            "measured-rapl figures are the CPU package (and DRAM where exposed) counters of the whole machine, "
            "including other processes; RAPL is a model-based counter whose agreement with wall-power meters "
            "varies by platform and was not calibrated here."
        )
    if any("measured-nvml" in k for k in methods):
        out.append("measured-nvml figures are the whole GPU's energy counter, including other processes on that GPU.")
    if m is not None:
        out.append(
            "Timings come from the example batch only (no data loading or pre-processing). The measurement does "
            "not reserve the machine: other processes running at the same time add noise, which the IQR shows."
        )
        outside = [r["technique"] for r in rows if r["outside_prediction"]]
        if outside:
            out.append(f"Outside the predicted latency range: {', '.join(outside)}.")
        failed = [r for r in rows if r["status"] != "ok"]
        if failed:
            out.append("Not measured: " + "; ".join(f"{r['technique']} ({r['status']})" for r in failed) + ".")
        load_note = m.load_warning()
        if load_note:
            out.append(load_note[0].upper() + load_note[1:] + ".")
        if m.status and m.status != "finished":
            out.append(f"The run did not finish (status {m.status}): only the variants listed were measured.")
    if hw is not None and not hw.rapl.readable and not hw.nvml.readable:
        out.append("No energy counter (RAPL or NVML) was readable on this machine.")
    return out


def reporting_items(data: Any) -> list[dict[str, str]]:
    """The reporting section of a :class:`ReportData` as ``[{"topic": ..., "text": ...}]``, each from the data."""
    m = data.step_run  # a per-step training run is reported the way a measurement is
    rows = run_rows(m)
    items = [
        ("Hardware", _hardware_text(data.hardware)),
        ("Software", _versions_text(data.versions, data.versions_source)),
    ]
    if m is not None:
        items += _energy_texts(m, rows)
        items.append(("Repeats and stopping rule", _repeats_text(m, rows)))
        items.append(("CO2e", _carbon_text(m, rows)))
        items.append(("Run", f"run id {m.run_id or '-'}, status {m.status or '-'}."))
    elif data.generation is None and data.training is None:
        items.append(("Measurements", "None in this report: the figures are the advisor's predictions only."))
    items += _to_target_items(data.training if m is None else None)
    items += _generation_items(data.generation)
    rec = data.recommendations
    if rec is not None:
        goal = ", ".join(f"{k} {v}" for k, v in rec.constraints.model_dump().items())
        items.append(
            (
                "Predictions",
                f"Expected savings are the advisor's estimates from the catalog's cited evidence, adjusted for this "
                f"model and hardware (see docs/advisor.md); constraints: {goal or 'not recorded'}.",
            )
        )
    items += [("Caveat", text) for text in _caveats(m, rows, data.hardware)]
    return [{"topic": t, "text": x} for t, x in items]


def _to_target_items(run: Any) -> list[tuple[str, str]]:
    """An energy-to-target run (``ToTargetRun``): its outcome, what the projection assumes, its run id."""
    if run is None:
        return []
    out = [
        (
            "Training to a target",
            run.outcome or f"every variant trained from scratch to {run.target:g} {run.metric} over interleaved seeds",
        )
    ]
    if run.projection_note:
        out.append(("Projection", run.projection_note))
    out.append(("Training run", f"run id {run.run_id or '-'}, status {run.status}."))
    return out


def _generation_items(run: Any) -> list[tuple[str, str]]:
    """A ``GenerationRun``'s own Reporting text (method, windows, prefill/decode convention) and its run id."""
    if run is None:
        return []
    facts = RunFacts.of(run)
    out = [("Generation", facts.reporting or "not recorded")]
    note = facts.weights_note
    if note:
        out.append(("Generation quality", note[0].upper() + note[1:] + "."))
    out.append(
        (
            "Generation run",
            f"run id {run.run_id or '-'}, status {run.status or '-'}; "
            f"batch sizes {facts.batch_sizes}, {facts.max_new_tokens} new tokens per prompt.",
        )
    )
    return out


def _generation_statement(run: Any, tool: str, hw: str) -> str:
    f = RunFacts.of(run)
    n_ok = sum(1 for r in run.results if r.status == "ok")
    return (
        f"We measured text generation with {tool} on {hw}: {n_ok} (variant, batch size) points of "
        f"{f.model or 'the model'} ({f.weights or '?'} weights), {f.max_new_tokens} new "
        f"tokens per prompt, in interleaved paired rounds; prefill is the first token and decode the rest, and "
        f"energy per token was obtained as {f.energy_method or 'no energy method'}."
    )


def reporting_statement(data: Any) -> str:
    """One paragraph summarising the measurement set-up of a :class:`ReportData`, ready to quote in a paper."""
    m = data.step_run
    calls = "forward passes" if data.measurement is not None else "training steps"
    v = data.versions
    tool = f"green-dl-advisor {v.get('green-dl-advisor', '')}".strip()
    hw = _hardware_text(data.hardware).rstrip(".")
    if m is None and data.generation is not None:
        return _generation_statement(data.generation, tool, hw)
    if m is None and data.training is not None:
        run = data.training
        return (
            f"We trained {len(run.all_results())} variants (including the unmodified baseline) from scratch to "
            f"{run.target:g} {run.metric} with {tool} on {hw}, seeds interleaved; energy to the target is compared "
            "per seed against the baseline."
        )
    if m is None:
        return (
            f"Techniques were ranked with {tool} from the literature evidence in its curated catalog; "
            f"no figure in this report was measured. Target hardware: {hw}."
        )
    rows = run_rows(m)
    methods = ", ".join(_methods(rows)) or "no energy method"
    n_ok = sum(r["status"] == "ok" for r in rows)
    sw = ", ".join(f"{k} {v[k]}" for k in ("python", "torch") if k in v)
    return (
        f"We measured {n_ok} variants (including the unmodified baseline) with {tool} ({sw}) on {hw}. "
        f"Latency is the median of repeated {calls} on one example batch, with its IQR; energy per call "
        f"was obtained as {methods}. {_carbon_text(m, rows, hint=False)}"
    )
