"""The campaign report: per model the winner per node type, heatmaps, CO2e per node group, Reporting per cell.

Reads the campaign ledger and the runs it points at from the SQLite store, so a report can be made at
any time, also of an interrupted campaign (its missing cells are listed as such).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from advisor._errors import ReportError
from advisor.reports._text import md_table

__all__ = ["campaign_data", "campaign_report", "render_campaign_html", "render_campaign_markdown"]


def _comparison(r: Any) -> dict[str, Any]:
    """Latency and energy ratio intervals and the verdict of one typed result (variant/baseline, lower better)."""
    c = r.comparison
    lat, en = (c.latency_ratio, c.energy_ratio) if c else (None, None)
    return {
        "latency": lat.to_dict() if lat else None,
        "energy": en.to_dict() if en else None,
        "verdict": c.verdict if c else None,
        "text": c.text() if c else None,
        "energy_method": (c.energy_method if c else None) or (r.timing.energy_method if r.timing else None),
    }


def _keeps_fidelity(r: Any) -> bool:
    """Quality verified by the one rule (``judge_quality``, default gate); a result without quality is not excluded."""
    from advisor.measurement.quality import judge_quality

    return r.quality is None or judge_quality(r.quality).status == "verified"


def _winner(results: list[Any]) -> Any:
    """The fastest variant measured significantly faster that keeps fidelity (None: keep the baseline)."""
    faster = [
        r
        for r in results
        if r.technique != "baseline"
        and r.status == "ok"
        and r.comparison
        and r.comparison.verdict == "faster"
        and r.comparison.latency_ratio
        and _keeps_fidelity(r)
    ]
    return min(faster, key=lambda r: r.comparison.latency_ratio.median, default=None)


def _interval_text(iv: dict[str, Any] | None, invert: bool = False) -> str:
    if not iv:
        return "-"
    m, lo, hi = iv["median"], iv["low"], iv["high"]
    if invert:
        m, lo, hi = 1 / m, 1 / hi, 1 / lo
    return f"{m:.2f} ({lo:.2f}-{hi:.2f}, {iv['n_rounds']} rounds)"


def _cell_run(cell: dict[str, Any], store: Any) -> Any:
    return store.load_run(cell["run_id"]) if cell["run_id"] else None


def _to_target_view(cell: dict[str, Any], run: Any) -> dict[str, Any]:
    """A training cell: the winner saves energy to the target (interval below 1) and reached it in every seed."""
    from advisor.training import outcome_line, target_text

    def iv(x: Any) -> dict[str, Any] | None:
        return x.to_dict() if x is not None else None

    ok = [r for r in run.results if r.status == "ok" and r.n_seeds and r.n_reached == r.n_seeds]
    win = min((r for r in ok if r.verdict == "less energy"), key=lambda r: r.energy_ratio.median, default=None)
    what = target_text(run.target, run.metric)
    return {
        **{k: cell[k] for k in ("cell_id", "model", "node_group", "batch_size", "status", "attempts", "run_id")},
        "error": (cell["error"] or "").split("\n")[0] or None,
        "hardware": cell["hardware"],
        "kind": "to-target",
        "winner": win.variant if win else f"baseline (nothing saved energy to {what})",
        "speedup": _interval_text(iv(win.time_ratio), invert=True) if win and win.time_ratio else "-",
        "energy_ratio": _interval_text(iv(win.energy_ratio)) if win else "-",
        "verdict": outcome_line(win, run.target, run.metric, run.baseline) if win else run.outcome or "-",
        "baseline_latency_ms": None,
        "energy_method": run.baseline.energy_method,
        "co2e_g_per_1k_calls_baseline": None,
        "co2e_g_per_1k_calls_winner": None,
        "results": [_to_target_result(r, run) for r in run.results],
    }


def _to_target_result(r: Any, run: Any) -> dict[str, Any]:
    from advisor.training import outcome_line

    return {
        "technique": r.variant,
        "status": r.status,
        "latency": r.time_ratio.to_dict() if r.time_ratio else None,
        "energy": r.energy_ratio.to_dict() if r.energy_ratio else None,
        "verdict": r.verdict,
        "text": outcome_line(r, run.target, run.metric, run.baseline),
        "energy_method": r.energy_method,
        "keeps_fidelity": r.n_seeds > 0 and r.n_reached == r.n_seeds,
    }


def _cell_view(cell: dict[str, Any], store: Any) -> dict[str, Any]:
    from advisor.measurement import MeasureRun
    from advisor.training import ToTargetRun

    run = _cell_run(cell, store)
    if isinstance(run, ToTargetRun):
        return _to_target_view(cell, run)
    results = run.all_results() if isinstance(run, MeasureRun) else []
    win = _winner(results)
    base = next((r for r in results if r.technique == "baseline"), None)
    wc = _comparison(win) if win else None
    base_timing = base.timing if base else None
    return {
        **{k: cell[k] for k in ("cell_id", "model", "node_group", "batch_size", "status", "attempts", "run_id")},
        "error": (cell["error"] or "").split("\n")[0] or None,
        "hardware": cell["hardware"],
        "winner": win.technique if win else ("baseline (nothing measured faster)" if results else None),
        "speedup": _interval_text(wc["latency"], invert=True) if wc else "-",
        "energy_ratio": _interval_text(wc["energy"]) if wc else "-",
        "verdict": wc["text"] if wc else "-",
        "baseline_latency_ms": base_timing.latency_ms_median if base_timing else None,
        "energy_method": (wc["energy_method"] if wc else None) or (base_timing.energy_method if base_timing else None),
        "co2e_g_per_1k_calls_baseline": base.co2e_g_per_1k_calls if base else None,
        "co2e_g_per_1k_calls_winner": win.co2e_g_per_1k_calls if win else None,
        "results": [
            {"technique": r.technique, "status": r.status, **_comparison(r), "keeps_fidelity": _keeps_fidelity(r)}
            for r in results
            if r.technique != "baseline"
        ],
    }


def campaign_data(campaign_id: str | None = None, store: str | Path | None = None) -> dict[str, Any]:
    """Everything the campaign report shows, as JSON-ready data.

    Raises:
        ReportError: No such campaign in the store.
    """
    from advisor.campaign import Ledger, Plan
    from advisor.measurement.store import ResultStore, default_store_path

    path = Path(store) if store else default_store_path()
    ledger = Ledger(path)
    rs = ResultStore(path)
    try:
        row = ledger.campaign(campaign_id) if campaign_id else ledger.latest()
        if row is None:
            known = ", ".join(c["campaign_id"] for c in ledger.campaigns(5)) or "none"
            raise ReportError(f"no campaign {campaign_id or '(latest)'} in {path}; known: {known}")
        cells = [_cell_view(c, rs) for c in ledger.cells(row["campaign_id"])]
    finally:
        ledger.close()
        rs.close()
    plan = json.loads(row["plan_json"])
    groups = {g.name: g for g in Plan.model_validate(plan).node_groups}
    return {
        "campaign_id": row["campaign_id"],
        "name": row["name"],
        "status": row["status"],
        "plan": plan,
        "cells": cells,
        "counts": _counts(cells),
        "co2e_by_group": _co2e_by_group(cells, groups),
        "models": sorted({c["model"] for c in cells}),
        "node_groups": list(groups),
    }


def _counts(cells: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(c["status"] for c in cells))


def _co2e_by_group(cells: list[dict[str, Any]], groups: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, g in groups.items():
        mine = [c for c in cells if c["node_group"] == name and c["status"] == "ok"]
        base = [c["co2e_g_per_1k_calls_baseline"] for c in mine if c["co2e_g_per_1k_calls_baseline"] is not None]
        win = [
            c["co2e_g_per_1k_calls_winner"] or c["co2e_g_per_1k_calls_baseline"]
            for c in mine
            if c["co2e_g_per_1k_calls_baseline"] is not None
        ]
        rows.append(
            {
                "node_group": name,
                "region": g.region,
                "pue": g.pue,
                "cells": len(mine),
                "co2e_g_per_1k_calls_baseline": sum(base) if base else None,
                "co2e_g_per_1k_calls_with_winners": sum(win) if win else None,
            }
        )
    return rows


def _matrix(data: dict[str, Any], key: str) -> tuple[list[str], list[str], list[list[float]]]:
    """Rows (model / technique) x columns (node groups) of one ratio's median (speed-up or energy ratio)."""
    rows: dict[str, dict[str, float]] = {}
    for c in data["cells"]:
        for r in c["results"]:
            iv = r[key]
            if r["status"] == "ok" and iv:
                val = 1 / iv["median"] if key == "latency" else iv["median"]
                rows.setdefault(f"{c['model']} / {r['technique']}", {})[c["node_group"]] = val
    names = sorted(rows)
    return names, data["node_groups"], [[rows[n].get(g, math.nan) for g in data["node_groups"]] for n in names]


def _heatmap_png(data: dict[str, Any], key: str, title: str) -> str | None:
    names, cols, values = _matrix(data, key)
    if not names:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2 + 1.6 * len(cols), 1 + 0.35 * len(names)))
    im = ax.imshow(values, cmap="RdYlGn" if key == "latency" else "RdYlGn_r", aspect="auto")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if not math.isnan(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8)
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    return md_table(headers, [["-" if c is None else c for c in r] for r in rows])


WIN_HEADERS = [
    "model",
    "node group",
    "batch",
    "status",
    "winner",
    "speed-up (95 % CI)",
    "energy ratio (95 % CI)",
    "verdict",
    "energy method",
]


def _winner_rows(data: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for c in data["cells"]:
        status = c["status"] + (f": {c['error']}" if c["error"] else "")
        rows.append(
            [
                c["model"],
                c["node_group"],
                c["batch_size"] or "-",
                status,
                c["winner"],
                c["speedup"],
                c["energy_ratio"],
                c["verdict"],
                c["energy_method"],
            ]
        )
    return rows


def _reporting_rows(data: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for c in data["cells"]:
        hw = c["hardware"] or {}
        counters = ", ".join(hw.get("energy_counters") or []) or "none (energy estimated)"
        rows.append(
            [
                c["cell_id"],
                c["run_id"],
                c["attempts"],
                hw.get("cpu_model"),
                hw.get("fingerprint"),
                counters,
                c["energy_method"],
            ]
        )
    return rows


def _g(x: float | None) -> str | None:
    return None if x is None else f"{x:.3g}"


def _co2_rows(data: dict[str, Any]) -> list[list[Any]]:
    """One row per node group: region, PUE, cells, and gCO2e per 1000 calls of the baselines and the winners."""
    return [
        [
            r["node_group"],
            r["region"] or "-",
            r["pue"],
            r["cells"],
            _g(r["co2e_g_per_1k_calls_baseline"]),
            _g(r["co2e_g_per_1k_calls_with_winners"]),
        ]
        for r in data["co2e_by_group"]
    ]


REPORTING_HEADERS = ["cell", "run id", "attempts", "CPU", "hardware fingerprint", "energy counters", "energy method"]


def render_campaign_markdown(data: dict[str, Any]) -> str:
    """The campaign report as Markdown."""
    counts = ", ".join(f"{k} {v}" for k, v in data["counts"].items())
    co2 = _co2_rows(data)
    out = [
        f"# Campaign {data['name']}",
        "",
        f"Campaign `{data['campaign_id']}`: {data['status']}; cells: {counts}.",
        "",
        "## Winner per model and node group",
        "",
        "The winner is the fastest variant measured significantly faster than the baseline in paired, "
        "interleaved rounds on that node group that keeps fidelity (cosine and top-1 agreement >= 0.99, "
        "or accuracy within 1 pp).",
        "",
        _md_table(WIN_HEADERS, _winner_rows(data)),
        "",
        "## CO2e per node group",
        "",
        _md_table(
            ["node group", "region", "PUE", "cells", "gCO2e / 1k calls (baselines)", "gCO2e / 1k calls (with winners)"],
            co2,
        ),
        "",
        "## Speed-up per node group",
        "",
    ]
    for key, label in (("latency", "speed-up (baseline/variant)"), ("energy", "energy ratio (variant/baseline)")):
        names, cols, values = _matrix(data, key)
        cells = [
            [n, *(f"{v:.2f}" if not math.isnan(v) else "-" for v in row)] for n, row in zip(names, values, strict=True)
        ]
        out += [f"### {label}", "", _md_table(["model / technique", *cols], cells), ""]
    out += [
        "## Reporting",
        "",
        "Each cell ran on one node of its group, alone (one measuring slot per node); "
        "energy without a readable counter is an estimate and says so.",
        "",
        _md_table(REPORTING_HEADERS, _reporting_rows(data)),
        "",
    ]
    return "\n".join(out)


def _html_table(headers: list[str], rows: list[list[Any]]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc('-' if c is None else str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .6em;"
    "text-align:left}th{background:#f3f3f3}img{max-width:100%}"
)


def render_campaign_html(data: dict[str, Any]) -> str:
    """The campaign report as one self-contained HTML page (heatmaps embedded as PNG)."""
    esc = html.escape
    counts = ", ".join(f"{k} {v}" for k, v in data["counts"].items())
    co2 = _co2_rows(data)
    parts = [
        f"<h1>Campaign {esc(data['name'])}</h1>",
        f"<p>Campaign <code>{esc(data['campaign_id'])}</code>: {esc(data['status'])}; cells: {esc(counts)}.</p>",
        "<h2>Winner per model and node group</h2>",
        "<p>The winner is the fastest variant measured significantly faster than the baseline in paired, "
        "interleaved rounds on that node group that keeps fidelity.</p>",
        _html_table(WIN_HEADERS, _winner_rows(data)),
        "<h2>CO2e per node group</h2>",
        _html_table(
            ["node group", "region", "PUE", "cells", "gCO2e / 1k calls (baselines)", "gCO2e / 1k calls (with winners)"],
            co2,
        ),
    ]
    for key, label in (("latency", "Speed-up (baseline/variant)"), ("energy", "Energy ratio (variant/baseline)")):
        png = _heatmap_png(data, key, label)
        if png:
            parts += [f"<h2>{esc(label)}</h2>", f'<img alt="{esc(label)} heatmap" src="data:image/png;base64,{png}">']
    parts += [
        "<h2>Reporting</h2>",
        "<p>Each cell ran on one node of its group, alone (one measuring slot per node); "
        "energy without a readable counter is an estimate and says so.</p>",
        _html_table(REPORTING_HEADERS, _reporting_rows(data)),
    ]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Campaign {esc(data['name'])}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>"
    )


def campaign_report(
    campaign_id: str | None = None, *, store: str | Path | None = None, out: str | Path = "campaign-report"
) -> list[Path]:
    """Write ``campaign.html``, ``campaign.md`` and ``campaign.json`` for a campaign (default: the newest).

    Returns:
        The paths written.
    """
    data = campaign_data(campaign_id, store)
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the report folder {folder}: {exc.strerror or exc}") from None
    written = []
    for name, text in (
        ("campaign.html", render_campaign_html(data)),
        ("campaign.md", render_campaign_markdown(data)),
        ("campaign.json", json.dumps(data, indent=2, default=str)),
    ):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
