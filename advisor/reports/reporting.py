"""The "Reporting" section: how the figures were obtained, as text a paper can quote.

Every sentence is generated from the report data (hardware, versions, meters, timing fields,
carbon block); where the data does not say something, the text says it is not recorded rather
than assuming it.
"""

from __future__ import annotations

from typing import Any

from advisor.reports._data import measurement_rows
from advisor.reports._text import fmt_num

__all__ = ["carbon_facts", "reporting_items", "reporting_statement"]


def _hardware_text(hw: dict[str, Any] | None) -> str:
    if not hw:
        return "Hardware: not recorded."
    gpus = hw.get("gpus") or []
    gpu_text = ", ".join(f"{g.get('name', 'GPU')} ({fmt_num(g.get('memory_gib'), '.0f')} GiB)" for g in gpus) or "none"
    mem = hw.get("memory_gib")
    mem_text = f"{mem:.1f} GiB RAM" if isinstance(mem, (int, float)) else "RAM not recorded"
    cores, threads = hw.get("physical_cores", "?"), hw.get("logical_cores", "?")
    return (
        f"CPU {hw.get('cpu_model', 'unknown')} ({hw.get('arch', '?')}), {cores} physical cores / {threads} hardware "
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


def carbon_facts(m: dict[str, Any] | None) -> dict[str, Any]:
    """The carbon block's region, intensity, year, source and PUE, whatever its exact key names."""
    c = (m or {}).get("carbon")
    if not isinstance(c, dict):
        return {}

    def pick(*names: str) -> Any:
        for n in names:
            if c.get(n) is not None:
                return c[n]
        inten = c.get("intensity")
        if isinstance(inten, dict):
            for n in names:
                if inten.get(n) is not None:
                    return inten[n]
        return None

    intensity = pick("g_co2e_per_kwh", "intensity_g_co2e_per_kwh", "intensity_g_per_kwh")
    if intensity is None and isinstance(c.get("intensity"), (int, float)):
        intensity = c["intensity"]
    return {
        "region": pick("region", "region_id"),
        "region_name": pick("name", "region_name"),
        "g_co2e_per_kwh": intensity,
        "year": pick("year", "intensity_year"),
        "source": pick("source", "intensity_source"),
        "pue": pick("pue"),
        "co2e_method": pick("co2e_method"),
        "note": pick("note", "method_note", "method"),
    }


def _energy_texts(m: dict[str, Any], rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    items = []
    methods = _methods(rows)
    meters = m.get("meter_descriptions") or m.get("meters") or []
    if methods:
        per = "; ".join(f"{k} ({len(v)} of {len(rows)} variants)" for k, v in methods.items())
        items.append(("Energy method per figure", f"{per}. Every energy figure in the tables carries its method."))
    else:
        items.append(("Energy method per figure", "No energy figure was recorded (no meter produced a reading)."))
    if meters:
        items.append(("Energy meter", "; ".join(str(x) for x in meters) + "."))
    unavailable = m.get("unavailable_meters") or {}
    if unavailable:
        items.append(("Meters not available", "; ".join(f"{k}: {v}" for k, v in unavailable.items()) + "."))
    idle = (m.get("meta") or {}).get("idle_power_w")
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


def _repeats_text(m: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    timed = [r for r in rows if r["repeats"]]
    if not timed:
        return "No variant was timed."
    reps = [r["repeats"] for r in timed]
    stops: dict[str, int] = {}
    for r in timed:
        stops[r["stopped_by"] or "?"] = stops.get(r["stopped_by"] or "?", 0) + 1
    stop_text = ", ".join(f"{k}: {v}" for k, v in sorted(stops.items()))
    budget = (m.get("meta") or {}).get("budget_s")
    stored = (m.get("meta") or {}).get("harness")
    settings = stored or _harness_defaults()
    origin = "as recorded in the run"
    if not stored:
        origin = "harness defaults of the installed green-dl-advisor, not stored in the run"
    rule = ""
    if settings.get("engine") == "interleaved-paired-rounds":
        rounds = [r["n_rounds"] for r in timed if r.get("n_rounds")]
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
        import inspect

        from advisor.measurement.harness import benchmark
    except ImportError:  # pragma: no cover - the measure package ships with the core
        return {}
    params = inspect.signature(benchmark).parameters
    return {k: params[k].default for k in ("warmup", "min_repeats", "rel_ci") if k in params}


def _carbon_text(m: dict[str, Any], rows: list[dict[str, Any]], *, hint: bool = True) -> str:
    facts = carbon_facts(m)
    has_rows = any(r["co2e_g_per_call"] is not None or r["co2e_g_per_1k_calls"] is not None for r in rows)
    if not facts.get("region") and not has_rows:
        how = " (pass --region to `green-advisor measure`, or region= to measure())" if hint else ""
        return f"CO2e not computed: no region given{how}."
    region = facts.get("region") or "?"
    name = f" ({facts['region_name']})" if facts.get("region_name") else ""
    inten = facts.get("g_co2e_per_kwh")
    inten_text = f"{fmt_num(inten, '.4g')} gCO2e/kWh" if inten is not None else "intensity not recorded"
    src = facts.get("source") or "source not recorded"
    year = facts.get("year") or "year not recorded"
    pue = facts.get("pue")
    pue_text = f"PUE {fmt_num(pue, 'g')}" if pue is not None else "PUE not recorded"
    note = f" {facts['note']}" if facts.get("note") else " A CO2e figure inherits the method of its energy figure."
    facts_text = f"region {region}{name}: {inten_text} ({src}, {year}); {pue_text}"
    return f"CO2e = energy x PUE x carbon intensity, {facts_text}.{note}"


def _caveats(m: dict[str, Any] | None, rows: list[dict[str, Any]], hw: dict[str, Any] | None) -> list[str]:
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
            out.append(
                "Not measured: " + "; ".join(f"{r['technique']} ({r['status']}: {r['reason']})" for r in failed) + "."
            )
        load_note = ((m.get("meta") or {}).get("load") or {}).get("note")
        if load_note:
            out.append(load_note[0].upper() + load_note[1:] + ".")
        if m.get("status") and m["status"] != "finished":
            out.append(f"The run did not finish (status {m['status']}): only the variants listed were measured.")
    if hw and not (hw.get("rapl") or {}).get("readable") and not (hw.get("nvml") or {}).get("readable"):
        out.append("No energy counter (RAPL or NVML) was readable on this machine.")
    return out


def reporting_items(data: dict[str, Any]) -> list[dict[str, str]]:
    """The reporting section as ``[{"topic": ..., "text": ...}]``, each generated from the data."""
    m = data.get("measurement") or data.get("training")  # a training run is reported the same way
    rows = measurement_rows(m)
    items = [
        ("Hardware", _hardware_text(data.get("hardware"))),
        ("Software", _versions_text(data.get("versions"), data.get("versions_source", "report"))),
    ]
    if m is not None:
        items += _energy_texts(m, rows)
        items.append(("Repeats and stopping rule", _repeats_text(m, rows)))
        items.append(("CO2e", _carbon_text(m, rows)))
        items.append(("Run", f"run id {m.get('run_id') or '-'}, status {m.get('status') or '-'}."))
    elif not data.get("generation"):
        items.append(("Measurements", "None in this report: the figures are the advisor's predictions only."))
    items += _generation_items(data.get("generation"))
    rec = data.get("recommendations")
    if rec:
        c = rec.get("constraints") or {}
        goal = ", ".join(f"{k} {v}" for k, v in c.items())
        items.append(
            (
                "Predictions",
                f"Expected savings are the advisor's estimates from the catalog's cited evidence, adjusted for this "
                f"model and hardware (see docs/advisor.md); constraints: {goal or 'not recorded'}.",
            )
        )
    items += [("Caveat", text) for text in _caveats(m, rows, data.get("hardware"))]
    return [{"topic": t, "text": x} for t, x in items]


def _generation_items(gen: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The generation run's own Reporting text (method, windows, prefill/decode convention) and its run id."""
    if not gen:
        return []
    run = gen.get("run") or {}
    meta = run.get("meta") or {}
    out = [("Generation", meta.get("reporting") or "not recorded")]
    if meta.get("weights_note"):
        out.append(("Generation quality", meta["weights_note"][0].upper() + meta["weights_note"][1:] + "."))
    out.append(
        (
            "Generation run",
            f"run id {run.get('run_id') or '-'}, status {run.get('status') or '-'}; "
            f"batch sizes {meta.get('batch_sizes')}, {meta.get('max_new_tokens')} new tokens per prompt.",
        )
    )
    return out


def _generation_statement(gen: dict[str, Any], tool: str, hw: str) -> str:
    meta = (gen.get("run") or {}).get("meta") or {}
    n_ok = sum(1 for r in (gen.get("run") or {}).get("results") or [] if r.get("status") == "ok")
    return (
        f"We measured text generation with {tool} on {hw}: {n_ok} (variant, batch size) points of "
        f"{meta.get('model', 'the model')} ({meta.get('weights', '?')} weights), {meta.get('max_new_tokens')} new "
        f"tokens per prompt, in interleaved paired rounds; prefill is the first token and decode the rest, and "
        f"energy per token was obtained as {meta.get('energy_method') or 'no energy method'}."
    )


def reporting_statement(data: dict[str, Any]) -> str:
    """One paragraph summarising the measurement set-up, ready to quote in a paper."""
    m = data.get("measurement") or data.get("training")
    calls = "forward passes" if data.get("measurement") else "training steps"
    v = data.get("versions") or {}
    tool = f"green-dl-advisor {v.get('green-dl-advisor', '')}".strip()
    hw = _hardware_text(data.get("hardware")).rstrip(".")
    if m is None and data.get("generation"):
        return _generation_statement(data["generation"], tool, hw)
    if m is None:
        return (
            f"Techniques were ranked with {tool} from the literature evidence in its curated catalog; "
            f"no figure in this report was measured. Target hardware: {hw}."
        )
    rows = measurement_rows(m)
    methods = ", ".join(_methods(rows)) or "no energy method"
    n_ok = sum(r["status"] == "ok" for r in rows)
    sw = ", ".join(f"{k} {v[k]}" for k in ("python", "torch") if k in v)
    return (
        f"We measured {n_ok} variants (including the unmodified baseline) with {tool} ({sw}) on {hw}. "
        f"Latency is the median of repeated {calls} on one example batch, with its IQR; energy per call "
        f"was obtained as {methods}. {_carbon_text(m, rows, hint=False)}"
    )
