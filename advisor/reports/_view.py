"""The report's view model: what the text formats show, built once from the typed :class:`ReportData`.

The HTML and Markdown renderers only lay out the lists and strings built here, so both show the
same figures with the same formatting. The view reads the result types' attributes; the table rows
of a run are :func:`advisor.measurement.result_row`'s (see :func:`run_rows`).
"""

from __future__ import annotations

from typing import Any

from advisor.reports._text import fmt_num, quality_text, reference_link, reference_text
from advisor.reports.reporting import carbon_facts, reporting_items, reporting_statement, run_rows

__all__ = ["TOP_EXPLAINED", "view"]

TOP_EXPLAINED = 3  # recommendations explained in full, with evidence and sources
_OUTSIDE = {True: "OUTSIDE", False: "inside", None: "-"}


def _mix(model: Any) -> str:
    share = {k: v for k, v in model.flop_share.items() if v}
    if share:
        return ", ".join(f"{k} {v * 100:.0f}%" for k, v in sorted(share.items(), key=lambda kv: -kv[1]))
    return ", ".join(f"{k} x{v}" for k, v in model.layer_counts.items()) or "not recorded"


def _model_facts(model: Any) -> list[tuple[str, str]]:
    """A ``ModelProfile`` as (label, value) pairs."""
    if model is None:
        return [("Model", "not recorded")]
    flops, batch = model.forward_flops, model.batch_size
    return [
        ("Model", f"{model.name} ({model.family}, {model.phase})"),
        ("Parameters", f"{model.n_parameters:,}"),
        ("Size", f"{model.size_bytes / 2**20:.2f} MiB" if model.size_bytes is not None else "-"),
        ("Forward FLOPs", (f"{flops:,}" + (f" per batch of {batch}" if batch else "")) if flops is not None else "-"),
        ("Layer mix (FLOP share)", _mix(model)),
    ]


def _hardware_facts(hw: Any) -> list[tuple[str, str]]:
    """A ``HardwareProfile`` as (label, value) pairs."""
    if hw is None:
        return [("Hardware", "not recorded")]
    counters = [name.upper() for name, src in (("rapl", hw.rapl), ("nvml", hw.nvml)) if src.readable]
    return [
        ("CPU", f"{hw.cpu_model} ({hw.arch}), {hw.physical_cores} cores / {hw.logical_cores} threads"),
        ("RAM", f"{hw.memory_gib:.1f} GiB" if hw.memory_gib else "-"),
        ("GPU", ", ".join(g.name for g in hw.gpus) or "none"),
        ("Energy counters", ", ".join(counters) or "none readable (energy is estimated)"),
    ]


def _ratio_range(est: Any) -> str:
    """An ``Estimate``'s ratio and its range."""
    if est.ratio is None:
        return "-"
    lo, hi = est.low, est.high
    rng = f" ({fmt_num(lo)}-{fmt_num(hi)})" if lo is not None and hi is not None and lo != hi else ""
    return f"{fmt_num(est.ratio)}{rng}"


def _recommendation_rows(rec: Any, refs: Any) -> list[dict[str, Any]]:
    return [
        {
            "rank": r.rank,
            "id": r.id,
            "name": r.name or r.id,
            "score": fmt_num(r.score, ".1f"),
            "expected": r.expected_text(),
            "ratio": _ratio_range(r.estimate),
            "confidence": r.estimate.confidence or "-",
            "risk": r.accuracy_risk or "-",
            "effort": r.effort or "-",
            "measurable": "yes" if r.measurable_here else "no",
            "warnings": [w.text for w in r.warnings],
            "refs": refs(r.id),
        }
        for r in rec.recommended
    ]


def _explained(rec: Any, refs: Any) -> list[dict[str, Any]]:
    return [
        {
            "rank": r.rank,
            "id": r.id,
            "name": r.name or r.id,
            "expected": r.expected_text(),
            "why": [f"{w.kind}: {w.text}" for w in r.why],
            "adjustments": list(r.estimate.adjustments),
            "warnings": [w.text for w in r.warnings],
            "implementations": list(r.implementations),
            "refs": refs(r.id),
        }
        for r in rec.recommended[:TOP_EXPLAINED]
    ]


def _recommendations(rec: Any, refs: Any) -> dict[str, Any] | None:
    """The recommendations section of ``Recommendations``; ``refs(id)`` numbers a technique's references."""
    if rec is None:
        return None
    by_reason: dict[str, dict[str, Any]] = {}
    for e in rec.excluded_items:
        for f in e.reasons:
            key = f.ref or f.kind or "?"
            slot = by_reason.setdefault(key, {"reason": key, "count": 0, "example": f.text})
            slot["count"] += 1
    stacks = [
        {"ids": " + ".join(s.ids), "ratio": fmt_num(s.ratio), "naive": fmt_num(s.naive_ratio)} for s in rec.stacks()
    ]
    c = rec.constraints
    return {
        "constraints": ", ".join(f"{k} {v}" for k, v in c.model_dump().items()) or "not recorded",
        "objective": c.objective or "the objective",
        "rows": _recommendation_rows(rec, refs),
        "top": _explained(rec, refs),
        "stacks": stacks,
        "n_excluded": len(rec.excluded_items),
        "exclusion_reasons": sorted(by_reason.values(), key=lambda x: (-x["count"], x["reason"])),
        "excluded": [{"id": e.id, "reasons": "; ".join(f.text for f in e.reasons)} for e in rec.excluded_items],
    }


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) if settings else ""


def _ratio_interval(r: dict[str, Any], key: str, verdict: str | None = None) -> str:
    """``0.71 (0.66-0.77)`` and the verdict, from a flat row's ratio and its interval."""
    if r[key] is None:
        return "-"
    rng = f" ({r[key + '_low']:.2f}-{r[key + '_high']:.2f})" if r[key + "_low"] is not None else ""
    return f"{r[key]:.2f}{rng}" + (f", {verdict}" if verdict else "")


def _measured_row(r: dict[str, Any], result: Any) -> dict[str, Any]:
    """One row of the measurement table: a :func:`run_rows` row formatted, beside its typed result."""
    pred = "-"
    if r["predicted_low"] is not None:
        lo, hi = r["predicted_low"], r["predicted_high"]
        pred = fmt_num(lo) if hi is None or hi == lo else f"{fmt_num(lo)}-{fmt_num(hi)}"
    return {
        "technique": r["technique"],
        "status": r["status"],
        "ok": result.status == "ok",
        "latency": fmt_num(r["latency_ms"]),
        "latency_iqr": fmt_num(r["latency_ms_iqr"]),
        "speedup": r["comparison"] or fmt_num(r["speedup"]),
        "verdict": r["verdict"] or "-",
        "energy": fmt_num(r["energy_j_per_call"]),
        "energy_iqr": fmt_num(r["energy_j_per_call_iqr"]),
        "method": r["energy_method"] or "-",
        "energy_ratio": _ratio_interval(r, "energy_ratio", r["energy_verdict"]),
        "co2e_1k": fmt_num(r["co2e_g_per_1k_calls"]),
        "quality": quality_text(result.quality),
        "predicted": pred,
        "measured_ratio": _ratio_interval(r, "latency_ratio"),
        "outside": _OUTSIDE[r["outside_prediction"]],
        "settings": _settings_text(result.settings),
        "repeats": fmt_num(r["repeats"]),
    }


def _measurement(m: Any) -> dict[str, Any] | None:
    """The measurement section of a ``MeasureRun``."""
    if m is None:
        return None
    rows = run_rows(m)
    has_co2e = any(r["co2e_g_per_1k_calls"] is not None for r in rows)
    facts = carbon_facts(m) if m.carbon is not None and m.carbon.region else {}
    what_if = m.carbon.what_if if m.carbon is not None else []
    return {
        "rows": [_measured_row(r, result) for r, result in zip(rows, m.all_results(), strict=True)],
        "has_co2e": has_co2e,
        "co2e_note": None if has_co2e else "CO2e not computed: no region given",
        "carbon_facts": {k: v for k, v in facts.items() if v is not None}
        if m.carbon is not None and m.carbon.region
        else {},
        "what_if": _table(what_if) if what_if else None,
    }


def _table(rows: list[dict[str, Any]], caption: str | None = None) -> dict[str, Any] | None:
    """Flat rows (column -> value) as a table of strings, with the columns any row fills."""
    headers = [h for h in dict.fromkeys(k for row in rows for k in row) if any(row.get(h) is not None for row in rows)]
    if not headers:
        return None
    table = {"headers": headers, "rows": [[fmt_num(row.get(h)) for h in headers] for row in rows]}
    return {"caption": caption, **table} if caption else table


def _settings_cols(settings: dict[str, Any]) -> dict[str, Any]:
    """What an applier set, one ``settings.<name>`` column each (lists joined)."""
    return {
        f"settings.{k}": ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
        for k, v in settings.items()
        if not isinstance(v, dict)
    }


def _step_training(run: Any) -> list[dict[str, Any]]:
    """A per-step ``TrainingRun``: the run, and one row per technique (the baseline first)."""
    rows = [{**r, **_settings_cols(res.settings)} for r, res in zip(run_rows(run), run.all_results(), strict=True)]
    head = [["run_id", fmt_num(run.run_id)], ["status", run.status], ["phase", "training (per step)"]]
    tables = [{"caption": "Run", "headers": ["field", "value"], "rows": head}, _table(rows, "results")]
    return [t for t in tables if t]


def _training(run: Any) -> list[dict[str, Any]] | None:
    """The tables of a per-step ``TrainingRun`` (a ``ToTargetRun`` has its own section, reports/_training.py)."""
    from advisor.measurement import TrainingRun

    return _step_training(run) if isinstance(run, TrainingRun) else None


def view(data: Any) -> dict[str, Any]:
    """Everything the text formats show of a :class:`ReportData`, formatted."""
    numbers = {k: i + 1 for i, k in enumerate(data.references)}

    def refs(technique: str) -> list[int]:
        return [numbers[k] for k in data.cites.get(technique, ()) if k in numbers]

    references = []
    for k, ref in data.references.items():
        link = reference_link(ref)
        references.append(
            {
                "n": numbers[k],
                "key": k,
                "text": reference_text(ref),
                "link_label": link[0] if link else None,
                "url": link[1] if link else None,
            }
        )
    return {
        "title": data.title or "Energy report",
        "generated_at": data.generated_at,
        "model_facts": _model_facts(data.model),
        "hardware_facts": _hardware_facts(data.hardware),
        "recommendations": _recommendations(data.recommendations, refs),
        "measurement": _measurement(data.measurement),
        "training": _training(data.training),
        "reporting": reporting_items(data),
        "statement": reporting_statement(data),
        "references": references,
    }
