"""The training section of a report: energy to a target per technique, and the metric-vs-energy curves.

Input is a :class:`advisor.training.ToTargetRun` (or its dict). Three renderings share one table:
:func:`training_markdown`, :func:`training_html` (the curves as an inline PNG) and :func:`training_json` (the run
and the table rows). The plot draws every seed's evaluations as metric against training energy (evaluation cost
kept out, as in the figures), one colour per variant, the target as a dashed line: where a curve crosses it is
that seed's energy to the target.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from advisor.reports._facts import RunFacts
from advisor.reports._text import md_table, md_text

__all__ = ["curves_plot", "training_html", "training_json", "training_markdown", "training_report", "training_rows"]


def _run(run: Any) -> Any:
    from advisor.training import ToTargetRun

    return ToTargetRun.from_dict(run) if isinstance(run, dict) else run


def _iv(iv: Any, spec: str = ".3g") -> str:
    if iv is None:
        return "-"
    if iv.confidence == 0.0:
        return f"{format(iv.median, spec)} (one seed)"
    return f"{format(iv.median, spec)} ({format(iv.low, spec)}-{format(iv.high, spec)})"


def _ratio(iv: Any) -> str:
    return "-" if iv is None else "x" + _iv(iv, ".2f")


def training_rows(run: Any) -> list[dict[str, str]]:
    """The to-target table as rows of display strings: the baseline, then one row per technique or stack."""
    from advisor.training import outcome_line

    run = _run(run)
    rows = []
    for r in run.all_results():
        base = r is run.baseline
        rows.append(
            {
                "technique": r.variant,
                "outcome": f"{r.n_reached}/{r.n_seeds} seeds reached it" if r.status == "ok" else r.status,
                "energy to target J": _iv(r.energy_j_to_target),
                "time to target s": _iv(r.time_s_to_target),
                "steps to target": _iv(r.steps_to_target, ".0f"),
                "energy ratio": "1 (reference)" if base else _ratio(r.energy_ratio),
                "verdict": "-" if base else r.verdict,
                "final metric": _iv(r.final_metric),
                "in words": "-" if base else outcome_line(r, run.target, run.metric, run.baseline),
            }
        )
    return rows


def _header(run: Any) -> str:
    from advisor.training import target_text

    f = RunFacts.of(run)
    cpu = f.cpu_model or "this machine"
    seeds = len(f.seeds or [])
    return (
        f"Model {f.model_name or 'model'} trained from scratch to {target_text(run.target, run.metric)}, "
        f"{seeds} seed(s) per variant, interleaved, on {cpu}; energy: {f.energy_method or 'unknown'}. "
        f"Run {run.run_id or '(not stored)'}, status {run.status}. {run.outcome}"
    )


def curves_plot(run: Any) -> bytes | None:
    """PNG of metric vs training energy per seed and variant, with the target line (None: no curve recorded)."""
    run = _run(run)
    series = [(r.variant, s.curve) for r in run.all_results() for s in r.seeds if s.curve]
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    colours: dict[str, str] = {}
    for variant, curve in series:
        label = None if variant in colours else variant  # one legend entry per variant
        colour = colours.setdefault(variant, f"C{len(colours) % 10}")
        xs, ys = [p["energy_j"] for p in curve], [p["metric"] for p in curve]
        ax.plot(xs, ys, color=colour, alpha=0.7, lw=1.2, label=label)
    ax.axhline(run.target, ls="--", color="black", lw=1, label=f"target {run.target:g}")
    ax.set_xlabel(f"training energy, J ({RunFacts.of(run).energy_method or 'method unknown'})")
    ax.set_ylabel(run.metric)
    ax.set_title("metric vs energy, one line per seed")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _projection_rows(run: Any) -> list[list[str]]:
    return [[p.variant, _iv(p.energy_j), _iv(p.energy_kwh, ".3g"), _iv(p.saving_j)] for p in (run.projection or [])]


def training_markdown(run: Any) -> str:
    """The training section as Markdown: the header, the to-target table and the projection."""
    run = _run(run)
    rows = training_rows(run)
    heads = list(rows[0]) if rows else []
    lines = ["## Training to a target", "", md_text(_header(run)), ""]
    lines += [md_table(heads, [list(r.values()) for r in rows]), ""]
    if run.projection:
        lines += ["### Projected to your full training", "", md_text(run.projection_note), ""]
        lines += [md_table(["technique", "energy J", "energy kWh", "saving J"], _projection_rows(run)), ""]
    return "\n".join(lines)


def _html_table(heads: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def training_html(run: Any) -> str:
    """The training section as an HTML fragment, with the curves as an inline PNG."""
    run = _run(run)
    rows = training_rows(run)
    parts = [
        '<section id="training"><h2>Training to a target</h2>',
        f"<p>{html.escape(_header(run))}</p>",
        _html_table(list(rows[0]) if rows else [], [list(r.values()) for r in rows]),
    ]
    png = curves_plot(run)
    if png:
        src = base64.b64encode(png).decode()
        alt = "metric vs training energy per seed, with the target line"
        parts.append(f'<img alt="{alt}" src="data:image/png;base64,{src}">')
    if run.projection:
        parts.append(f"<h3>Projected to your full training</h3><p>{html.escape(run.projection_note)}</p>")
        parts.append(_html_table(["technique", "energy J", "energy kWh", "saving J"], _projection_rows(run)))
    parts.append("</section>")
    return "\n".join(parts)


def training_json(run: Any) -> dict[str, Any]:
    """The run (as :meth:`ToTargetRun.to_dict`, non-finite numbers as null) and the table rows."""
    import json

    run = _run(run)
    return {"run": json.loads(run.to_json()), "rows": training_rows(run)}


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:72em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .5em;font-size:.9em}}th{{background:#f3f3f3}}img{{max-width:100%}}</style>
</head><body>
{body}
</body></html>
"""


def training_report(run: Any, out: Any) -> list[Any]:
    """Write ``training.html``, ``training.md`` and ``training.json`` into the folder ``out``; return the paths.

    Raises:
        ReportError: The folder cannot be created or written (the message names it and the reason).
    """
    import json
    from pathlib import Path

    from advisor._errors import ReportError

    run = _run(run)
    folder = Path(out)
    title = html.escape(f"Training to a target: {RunFacts.of(run).model_name or ''}")
    files = {
        "training.html": _PAGE.format(title=title, body=training_html(run)),
        "training.md": training_markdown(run),
        "training.json": json.dumps(training_json(run), indent=2),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{folder}: cannot write the training report: {exc.strerror or exc}") from None
    return [folder / n for n in files]
