"""The report's figures (matplotlib, Agg, no pyplot state): latency, energy, predicted vs measured.

Each function returns a PNG as a ``data:`` URI (so the HTML stays one self-contained file), or
None when the data holds nothing to plot.
"""

from __future__ import annotations

import base64
import io
from typing import Any

__all__ = ["energy_plot", "figures", "latency_plot", "prediction_plot"]

_OK = "#2b7a4b"
_OUT = "#c0392b"
_BASE = "#5b6770"


def _figure(n_bars: int) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(7.5, max(2.2, 0.45 * n_bars + 1.2)), dpi=100, layout="constrained")


def _png_uri(fig: Any) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _bars(rows: list[dict[str, Any]], value: str, spread: str | None, xlabel: str, title: str) -> str | None:
    pts = [r for r in rows if r["status"] == "ok" and r[value] is not None]
    if not pts:
        return None
    fig = _figure(len(pts))
    ax = fig.add_subplot()
    names = [r["technique"] for r in pts][::-1]
    vals = [r[value] for r in pts][::-1]
    errs = [(r[spread] or 0) / 2 if spread else 0 for r in pts][::-1]
    colors = [_BASE if n == "baseline" else _OK for n in names]
    ax.barh(names, vals, xerr=errs if any(errs) else None, color=colors, capsize=3, ecolor="#222")
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(axis="x", alpha=0.3)
    ax.tick_params(axis="y", labelsize=8)
    positive = [v for v in vals if v > 0]
    if positive and max(positive) / min(positive) > 50:  # a linear axis would hide the small bars
        ax.set_xscale("log")
    return _png_uri(fig)


def latency_plot(rows: list[dict[str, Any]]) -> str | None:
    """Median latency per variant, error bars = the IQR centred on the median."""
    return _bars(rows, "latency_ms", "latency_ms_iqr", "latency per call (ms), median; bar = IQR", "Latency per call")


def energy_plot(rows: list[dict[str, Any]]) -> str | None:
    """Energy per call per variant, error bars = its IQR where one was measured."""
    methods = sorted({r["energy_method"] for r in rows if r["energy_method"]})
    return _bars(
        rows,
        "energy_j_per_call",
        "energy_j_per_call_iqr",
        "energy per call (J); bar = IQR where known",
        f"Energy per call ({', '.join(methods) or 'no method'})",
    )


def prediction_plot(rows: list[dict[str, Any]]) -> str | None:
    """Predicted latency-ratio range (bar) against the measured ratio (point); red when outside."""
    pts = [r for r in rows if r["predicted_low"] is not None and r["latency_ratio"] is not None]
    if not pts:
        return None
    fig = _figure(len(pts))
    ax = fig.add_subplot()
    for i, r in enumerate(pts[::-1]):
        lo = r["predicted_low"]
        hi = r["predicted_high"] if r["predicted_high"] is not None else lo
        width = max(hi - lo, lo * 0.03)  # a point prediction still shows as a narrow bar
        ax.barh(
            [i],
            [width],
            left=[lo - (width - (hi - lo)) / 2],
            height=0.5,
            color="#95a5a6",
            label="predicted range" if i == 0 else None,
        )
        if r["predicted_latency_ratio"] is not None:
            ax.plot(
                [r["predicted_latency_ratio"]],
                [i],
                "|",
                color="#34495e",
                markersize=14,
                label="predicted" if i == 0 else None,
            )
        color = _OUT if r["outside_prediction"] else _OK
        ax.plot([r["latency_ratio"]], [i], "o", color=color, markersize=7, label="measured" if i == 0 else None)
    ax.axvline(1.0, color="#222", linewidth=0.8, linestyle="--")
    ax.set_ylim(-0.6, len(pts) - 0.4)
    ax.set_yticks(range(len(pts)), [r["technique"] for r in pts[::-1]], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("latency ratio, variant / baseline (< 1 is faster); red = outside prediction")
    ax.set_title("Predicted vs measured", fontsize=10, loc="left")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _png_uri(fig)


def figures(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Every figure that has data: ``[{"id", "title", "uri"}]``."""
    out = []
    for fid, title, fn in (
        ("latency", "Latency per call (median, IQR)", latency_plot),
        ("energy", "Energy per call", energy_plot),
        ("prediction", "Predicted vs measured latency ratio", prediction_plot),
    ):
        uri = fn(rows)
        if uri:
            out.append({"id": fid, "title": title, "uri": uri})
    return out
