"""The advisor form's live plot: latency and energy with their spread, and predicted vs measured."""

from __future__ import annotations

import io
from typing import Any

__all__ = ["results_png"]


def results_png(results: list[Any], dpi: int = 90) -> bytes:
    """Render measured results as a PNG (three panels), for a ``widgets.Image``.

    Args:
        results: :class:`~advisor.measurement.TechniqueResult` objects; those without timing are
            left out of the latency and energy panels.
        dpi: Resolution of the image.

    Returns:
        PNG bytes.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    ok = [r for r in results if r.timing is not None]
    fig = Figure(figsize=(11, 3.2), dpi=dpi, layout="constrained")
    ax_lat, ax_en, ax_pred = fig.subplots(1, 3)
    names = [r.technique for r in ok]
    y = list(range(len(ok)))
    if ok:
        lat = [r.timing.latency_ms_median for r in ok]
        ax_lat.barh(y, lat, xerr=[r.timing.latency_ms_iqr / 2 for r in ok], color="#4c72b0", capsize=3)
        energy = [r.timing.energy_j_per_call or 0.0 for r in ok]
        err = [(r.timing.energy_j_per_call_iqr or 0.0) / 2 for r in ok]
        ax_en.barh(y, [e * 1000 for e in energy], xerr=[e * 1000 for e in err], color="#55a868", capsize=3)
        methods = sorted({r.timing.energy_method for r in ok if r.timing.energy_method})
        ax_en.set_title(f"energy per call ({', '.join(methods) or 'no meter'})", fontsize=9)
    for ax in (ax_lat, ax_en):
        ax.set_yticks(y, names, fontsize=8)
        ax.invert_yaxis()
    ax_lat.set_title("latency per call (median, bar = IQR)", fontsize=9)
    ax_lat.set_xlabel("ms")
    ax_en.set_xlabel("mJ")
    pred = [(r, r.row()) for r in ok if r.comparison and r.comparison.latency_ratio]
    pred = [(r, row) for r, row in pred if row["predicted_low"] is not None and row["predicted_high"] is not None]
    for i, (r, row) in enumerate(pred):
        lo, hi = row["predicted_low"], row["predicted_high"]
        ax_pred.plot([lo, hi], [i, i], color="#999999", linewidth=6, solid_capstyle="butt")
        colour = "#c44e52" if r.outside_prediction else "#1b5e20"
        iv = r.comparison.latency_ratio  # the measured median with its 95 % interval
        ax_pred.errorbar(
            [iv.median], [i], xerr=[[iv.median - iv.low], [iv.high - iv.median]], fmt="o", color=colour, capsize=3
        )
    ax_pred.set_yticks(range(len(pred)), [r.technique for r, _ in pred], fontsize=8)
    ax_pred.invert_yaxis()
    ax_pred.axvline(1.0, color="black", linewidth=0.8)
    ax_pred.set_title("latency ratio: predicted range (grey) vs measured (dot, 95% interval)", fontsize=9)
    ax_pred.set_xlabel("new / baseline (< 1 is faster)")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
