"""The generation section of a report: energy per token per batch size and technique, and the frontier plot.

Input is a :class:`advisor.measurement.GenerationRun` (or its dict). Three renderings share one
table: :func:`generation_markdown`, :func:`generation_html` (with the frontier as an inline PNG)
and :func:`generation_json` (the run, the advice and the table rows). The frontier plot draws every
measured (variant, batch size) as time per request vs energy per output token, the baseline's
batch sweep as a line: batching is the first lever.
"""

from __future__ import annotations

import html
from typing import Any

from advisor.reports._facts import RunFacts
from advisor.reports._text import md_table, md_text

__all__ = [
    "frontier_plot",
    "frontier_points",
    "generation_html",
    "generation_json",
    "generation_markdown",
    "generation_rows",
]


def _run(run: Any) -> Any:
    from advisor.generation import GenerationRun

    return GenerationRun.from_dict(run) if isinstance(run, dict) else run


def _iv(row: dict[str, Any], name: str, spec: str = ".3g") -> str:
    """A row's figure with its interval, ``median (low-high)``."""
    if row[name] is None:
        return "-"
    return f"{format(row[name], spec)} ({format(row[name + '_low'], spec)}-{format(row[name + '_high'], spec)})"


def _pct(v: float | None) -> str:
    return f"{v:.0%}" if v is not None else "-"


def _rounds(r: Any) -> str:
    """Paired rounds and, when it left the rounds early or ran short, why (e.g. ``6 (retired)``)."""
    if not r.rounds:
        return "-"
    why = r.tokens.get("stopped_by") if r.tokens else None  # tokens: per-prompt counts and the stop reason
    return f"{r.rounds} ({why})" if why in ("retired", "budget") else str(r.rounds)


def _header(run: Any) -> str:
    f = RunFacts.of(run)
    return (
        f"Model {f.model} ({f.weights} weights) on {f.cpu}; {f.max_new_tokens} new tokens per prompt; "
        f"energy: {f.energy_method}."
    )


def _vs_baseline(r: Any) -> str:
    c = r.comparison.get("end_to_end")  # phase -> Comparison
    return (c.text() + "; " + c.energy_text()) if c else "-"


def generation_rows(run: Any) -> list[dict[str, str]]:
    """The J/token table as rows of display strings (one per variant and batch size).

    Each row formats :meth:`GenerationResult.row`, the one flattening of a generation result.
    """
    rows = []
    for r in _run(run).results:
        row = r.row()
        rows.append(
            {
                "technique": r.technique,
                "batch": str(r.batch_size),
                "status": r.status if r.status == "ok" else f"{r.status}: {r.reason or ''}"[:160],
                "rounds": _rounds(r),
                "TTFT ms": _iv(row, "ttft_ms"),
                "prefill J/input token": _iv(row, "prefill_j_per_input_token"),
                "decode tokens/s": _iv(row, "decode_tokens_per_s"),
                "decode J/output token": _iv(row, "decode_j_per_output_token"),
                "J/output token": _iv(row, "j_per_output_token"),
                "vs baseline": _vs_baseline(r),
                "acceptance": _pct(row["acceptance_rate"]),
                "agreement": _pct(row["greedy_agreement"]),
                "KV cache MiB": f"{row['kv_cache_mib']:.3g}" if row["kv_cache_mib"] is not None else "-",
            }
        )
    return rows


def generation_markdown(run: Any) -> str:
    """The generation section in Markdown: table, advice, Reporting."""
    from advisor.generation import generation_advice

    run = _run(run)
    rows = generation_rows(run)
    cols = list(rows[0]) if rows else []
    t = md_text
    lines = ["## Generation: energy per token", "", t(_header(run)), ""]
    if rows:
        lines.append(md_table(cols, [[r[c] for c in cols] for r in rows]))
    adv = generation_advice(run)
    lines += ["", "### Advice per batch size", ""]
    lines += [f"- batch {b}: use **{t(x)}**" for b, x in adv.best.items()]
    lines += [f"- {t(line)}" for line in adv.lines]
    facts = RunFacts.of(run)
    if facts.weights_note:
        lines += ["", f"Note: {t(facts.weights_note)}."]
    if facts.plan_note:
        lines += ["", f"Budget: {t(facts.plan_note)}."]
    lines += ["", "### Reporting", "", t(facts.reporting or ""), ""]
    return "\n".join(lines)


def frontier_plot(run: Any) -> str | None:
    """Time per request vs energy per output token for every measured point, as a PNG data URI (None: no energy)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    run = _run(run)
    pts: dict[str, list[tuple[int, float, float]]] = {}
    for r in run.results:
        f = r.figures
        if r.status == "ok" and f and f.j_per_output_token and f.request_latency_s:
            pts.setdefault(r.technique, []).append(
                (r.batch_size, f.request_latency_s.median, f.j_per_output_token.median)
            )
    if not pts:
        return None
    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for tech, p in sorted(pts.items(), key=lambda kv: kv[0] != "baseline"):
        p.sort()
        xs, ys = [x for _, x, _ in p], [y for _, _, y in p]
        style = {"marker": "o", "lw": 2.0} if tech == "baseline" else {"marker": ".", "lw": 0.8, "alpha": 0.8}
        ax.plot(xs, ys, label=tech, **style)
        for b, x, y in p:
            ax.annotate(f"b{b}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time per generate() call (s)")
    ax.set_ylabel(f"energy per output token (J) [{RunFacts.of(run).energy_method}]")
    ax.set_title("Batch size and technique: time vs energy per token")
    ax.legend(fontsize=7)
    fig.tight_layout()
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def generation_html(run: Any) -> str:
    """The generation section as an HTML fragment (table, frontier plot, advice, Reporting)."""
    from advisor.generation import generation_advice

    run = _run(run)
    rows = generation_rows(run)
    cols = list(rows[0]) if rows else []
    e = html.escape
    parts = [
        '<section class="generation"><h2>Generation: energy per token</h2>',
        f"<p>{e(_header(run))}</p>",
        "<table><thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr></thead><tbody>",
    ]
    parts += ["<tr>" + "".join(f"<td>{e(r[c])}</td>" for c in cols) + "</tr>" for r in rows]
    parts.append("</tbody></table>")
    uri = frontier_plot(run)
    if uri:
        parts.append(f'<img alt="time vs energy per token frontier" src="{uri}">')
    adv = generation_advice(run)
    parts.append(
        "<ul>"
        + "".join(f"<li>batch {b}: use <b>{e(t)}</b></li>" for b, t in adv.best.items())
        + "".join(f"<li>{e(x)}</li>" for x in adv.lines)
        + "</ul>"
    )
    facts = RunFacts.of(run)
    if facts.plan_note:
        parts.append(f"<p>Budget: {e(facts.plan_note)}.</p>")
    parts.append(f"<h3>Reporting</h3><p>{e(facts.reporting or '')}</p></section>")
    return "\n".join(parts)


def frontier_points(run: Any) -> list[dict[str, Any]]:
    """The frontier plot's data: every measured (variant, batch size) as time per request and energy per token.

    ``on_frontier`` marks the points no other point beats on both (lower is better on both axes).
    """
    from advisor.generation import pareto_frontier

    pts = []
    for r in _run(run).results:
        f = r.figures
        if r.status == "ok" and f and f.j_per_output_token and f.request_latency_s:
            pts.append(
                {
                    "technique": r.technique,
                    "batch_size": r.batch_size,
                    "request_latency_s": f.request_latency_s.median,
                    "j_per_output_token": f.j_per_output_token.median,
                }
            )
    best = set(pareto_frontier([(p["request_latency_s"], p["j_per_output_token"]) for p in pts]))
    return [{**p, "on_frontier": i in best} for i, p in enumerate(pts)]


def generation_json(run: Any) -> dict[str, Any]:
    """The run, its advice, the display rows, the frontier plot's points and the Reporting text, JSON-ready."""
    from advisor.generation import generation_advice

    run = _run(run)
    return {
        "run": run.to_dict(),
        "advice": generation_advice(run).to_dict(),
        "rows": generation_rows(run),
        "frontier": frontier_points(run),
        "reporting": RunFacts.of(run).reporting or "",
    }
