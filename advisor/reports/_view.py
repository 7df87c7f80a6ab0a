"""What the report shows, computed once from the normalised data for every text format.

The HTML and Markdown renderers only lay out the lists and strings built here, so both show the
same figures with the same formatting.
"""

from __future__ import annotations

from typing import Any

from advisor.reports._data import measurement_rows, reference_link, reference_text
from advisor.reports._text import fmt_num
from advisor.reports.reporting import carbon_facts, reporting_items, reporting_statement

__all__ = ["TOP_EXPLAINED", "view"]

TOP_EXPLAINED = 3  # recommendations explained in full, with evidence and sources
_OUTSIDE = {True: "OUTSIDE", False: "inside", None: "-"}


def _mix(model: dict[str, Any]) -> str:
    share = {k: v for k, v in (model.get("flop_share") or {}).items() if v}
    if share:
        return ", ".join(f"{k} {v * 100:.0f}%" for k, v in sorted(share.items(), key=lambda kv: -kv[1]))
    counts = model.get("layer_counts") or {}
    return ", ".join(f"{k} x{v}" for k, v in counts.items()) or "not recorded"


def _model_facts(model: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not model:
        return [("Model", "not recorded")]
    params = model.get("n_parameters")
    size = model.get("size_bytes")
    flops = model.get("forward_flops")
    batch = model.get("batch_size")
    return [
        ("Model", f"{model.get('name', 'model')} ({model.get('family', 'unknown')}, {model.get('phase', '?')})"),
        ("Parameters", f"{params:,}" if isinstance(params, int) else "-"),
        ("Size", f"{size / 2**20:.2f} MiB" if isinstance(size, (int, float)) else "-"),
        (
            "Forward FLOPs",
            (f"{flops:,}" + (f" per batch of {batch}" if batch else "")) if isinstance(flops, (int, float)) else "-",
        ),
        ("Layer mix (FLOP share)", _mix(model)),
    ]


def _hardware_facts(hw: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not hw:
        return [("Hardware", "not recorded")]
    gpus = ", ".join(g.get("name", "GPU") for g in hw.get("gpus") or []) or "none"
    mem = hw.get("memory_gib")
    counters = [n.upper() for n in ("rapl", "nvml") if (hw.get(n) or {}).get("readable")]
    cores, threads = hw.get("physical_cores", "?"), hw.get("logical_cores", "?")
    return [
        ("CPU", f"{hw.get('cpu_model', '?')} ({hw.get('arch', '?')}), {cores} cores / {threads} threads"),
        ("RAM", f"{mem:.1f} GiB" if isinstance(mem, (int, float)) else "-"),
        ("GPU", gpus),
        ("Energy counters", ", ".join(counters) or "none readable (energy is estimated)"),
    ]


def _ratio_range(est: dict[str, Any]) -> str:
    if est.get("ratio") is None:
        return "-"
    lo, hi = est.get("low"), est.get("high")
    rng = f" ({fmt_num(lo)}-{fmt_num(hi)})" if lo is not None and hi is not None and lo != hi else ""
    return f"{fmt_num(est['ratio'])}{rng}"


def _recommendations(rec: dict[str, Any] | None, numbers: dict[str, int]) -> dict[str, Any] | None:
    if not rec:
        return None
    c = rec.get("constraints") or {}
    rows = []
    for r in rec.get("recommended") or []:
        est = r.get("estimate") or {}
        rows.append(
            {
                "rank": r.get("rank"),
                "id": r["id"],
                "name": r.get("name") or r["id"],
                "score": fmt_num(r.get("score"), ".1f"),
                "expected": r.get("expected") or "-",
                "ratio": _ratio_range(est),
                "confidence": est.get("confidence") or "-",
                "risk": r.get("accuracy_risk") or "-",
                "effort": r.get("effort") or "-",
                "measurable": "yes" if r.get("measurable_here") else "no",
                "warnings": [w.get("text", "") for w in r.get("warnings") or []],
                "refs": [numbers[k] for k in r.get("references") or [] if k in numbers],
            }
        )
    top = []
    for r in (rec.get("recommended") or [])[:TOP_EXPLAINED]:
        top.append(
            {
                "rank": r.get("rank"),
                "id": r["id"],
                "name": r.get("name") or r["id"],
                "expected": r.get("expected") or "-",
                "why": [f"{w.get('kind', '')}: {w.get('text', '')}" for w in r.get("why") or []],
                "adjustments": list((r.get("estimate") or {}).get("adjustments") or []),
                "warnings": [w.get("text", "") for w in r.get("warnings") or []],
                "implementations": list(r.get("implementations") or []),
                "refs": [numbers[k] for k in r.get("references") or [] if k in numbers],
            }
        )
    excluded = rec.get("excluded") or []
    by_reason: dict[str, dict[str, Any]] = {}
    for e in excluded:
        for f in e.get("reasons") or []:
            key = f.get("ref") or f.get("kind") or "?"
            slot = by_reason.setdefault(key, {"reason": key, "count": 0, "example": f.get("text", "")})
            slot["count"] += 1
    stacks = [
        {
            "ids": " + ".join(s.get("ids") or []),
            "ratio": fmt_num(s.get("ratio")),
            "naive": fmt_num(s.get("naive_ratio")),
        }
        for s in rec.get("stacks") or []
    ]
    return {
        "constraints": ", ".join(f"{k} {v}" for k, v in c.items()) or "not recorded",
        "objective": c.get("objective") or "the objective",
        "rows": rows,
        "top": top,
        "stacks": stacks,
        "n_excluded": len(excluded),
        "exclusion_reasons": sorted(by_reason.values(), key=lambda x: (-x["count"], x["reason"])),
        "excluded": [
            {"id": e.get("id"), "reasons": "; ".join(f.get("text", "") for f in e.get("reasons") or [])}
            for e in excluded
        ],
    }


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) if settings else ""


def _ratio_interval(r: dict[str, Any], key: str, verdict: str | None = None) -> str:
    """``0.71 (0.66-0.77)`` and the verdict, from a flat row's ratio and its interval."""
    if r.get(key) is None:
        return "-"
    rng = f" ({r[key + '_low']:.2f}-{r[key + '_high']:.2f})" if r.get(key + "_low") is not None else ""
    return f"{r[key]:.2f}{rng}" + (f", {verdict}" if verdict else "")


def _measurement(m: dict[str, Any] | None) -> dict[str, Any] | None:
    if not m:
        return None
    rows = measurement_rows(m)
    shown = []
    for r in rows:
        pred = "-"
        if r["predicted_low"] is not None:
            lo, hi = r["predicted_low"], r["predicted_high"]
            pred = fmt_num(lo) if hi is None or hi == lo else f"{fmt_num(lo)}-{fmt_num(hi)}"
        shown.append(
            {
                "technique": r["technique"],
                "status": r["status"] if r["status"] == "ok" else f"{r['status']}: {r['reason']}",
                "ok": r["status"] == "ok",
                "latency": fmt_num(r["latency_ms_median"]),
                "latency_iqr": fmt_num(r["latency_ms_iqr"]),
                "speedup": r["comparison"] or fmt_num(r["speedup"]),
                "verdict": r["verdict"] or "-",
                "energy": fmt_num(r["energy_j_per_call"]),
                "energy_iqr": fmt_num(r["energy_j_per_call_iqr"]),
                "method": r["energy_method"] or "-",
                "energy_ratio": _ratio_interval(r, "energy_ratio", r.get("energy_verdict")),
                "co2e_1k": fmt_num(r["co2e_g_per_1k_calls"]),
                "quality": r["quality"],
                "predicted": pred,
                "measured_ratio": _ratio_interval(r, "latency_ratio"),
                "outside": _OUTSIDE[r["outside_prediction"]],
                "settings": _settings_text(r["settings"]),
                "repeats": fmt_num(r["repeats"]),
            }
        )
    has_co2e = any(r["co2e_g_per_1k_calls"] is not None for r in rows)
    carbon = m.get("carbon") if isinstance(m.get("carbon"), dict) else None
    what_if = (carbon or {}).get("what_if") or []
    facts = carbon_facts(m)
    return {
        "rows": shown,
        "has_co2e": has_co2e,
        "co2e_note": None if has_co2e else "CO2e not computed: no region given",
        "carbon_facts": {k: v for k, v in facts.items() if v is not None} if facts.get("region") else {},
        "what_if": _table(what_if) if what_if and isinstance(what_if, list) else None,
        "raw_rows": rows,
    }


def _flatten(d: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and depth < 1:
            out.update(_flatten(v, f"{key}.", depth + 1))
        elif isinstance(v, list):
            if all(not isinstance(x, (list, dict)) for x in v):  # nested lists are left to report.json
                out[key] = ", ".join(map(str, v))
        elif not isinstance(v, dict):
            out[key] = v
    return out


def _table(items: list[Any]) -> dict[str, Any] | None:
    """A generic table (headers, rows of strings) from a list of dicts."""
    flat = [_flatten(x) for x in items if isinstance(x, dict)]
    if not flat:
        return None
    headers = list(dict.fromkeys(k for row in flat for k in row))
    return {"headers": headers, "rows": [[fmt_num(row.get(h)) for h in headers] for row in flat]}


def _training(tr: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """Any training run, generically: its list-of-objects fields as tables, its scalars as one table."""
    if not tr:
        return None
    tables = []
    scalars = {k: v for k, v in tr.items() if not isinstance(v, (list, dict))}
    if scalars:
        tables.append({"caption": "Run", "headers": ["field", "value"],
                       "rows": [[k, fmt_num(v)] for k, v in scalars.items()]})  # fmt: skip
    runs = [tr["baseline"]] if isinstance(tr.get("baseline"), dict) else []
    for key, value in tr.items():
        if key in ("meta", "baseline"):
            continue
        if key == "results" and isinstance(value, list):
            value = [*runs, *value]  # noqa: PLW2901 - the baseline heads the results table
        items = value
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            items = [{"name": k, **v} for k, v in value.items() if isinstance(v, dict)]
        elif isinstance(value, dict):
            items = [value]
        if isinstance(items, list):
            t = _table(items)
            if t:
                tables.append({"caption": key.replace("_", " "), **t})
    return tables


def view(data: dict[str, Any]) -> dict[str, Any]:
    """Everything the text formats show, formatted."""
    refs = data.get("references") or {}
    numbers = {k: i + 1 for i, k in enumerate(refs)}
    references = []
    for k, ref in refs.items():
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
    measurement = _measurement(data.get("measurement"))
    return {
        "title": data.get("title") or "Energy report",
        "generated_at": data.get("generated_at") or "",
        "model_facts": _model_facts(data.get("model")),
        "hardware_facts": _hardware_facts(data.get("hardware")),
        "recommendations": _recommendations(data.get("recommendations"), numbers),
        "measurement": measurement,
        "training": _training(data.get("training")),
        "reporting": reporting_items(data),
        "statement": reporting_statement(data),
        "references": references,
    }
