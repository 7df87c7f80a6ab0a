"""The advisor form: profile + constraints -> ranked techniques -> live measurement -> report.

``advise(model, example_inputs)`` pre-fills the profile from the model and the hardware from this
machine. Recommend shows the ranking with reasons and exclusions; Measure applies the chosen
techniques to copies of the model and fills a table and plots as each result arrives; the export
buttons write the report (HTML, Markdown, JSON, BibTeX). A bad value in the form shows a message
in the form, never a traceback.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w

from advisor._errors import AdvisorError, ConstraintError
from advisor.ui import _html

__all__ = ["AdvisorUI", "advise"]

FAMILIES = ("cnn", "transformer", "rnn", "mlp", "gnn", "llm", "unknown")
EXPORTS = {
    "html": ("report.html", "text/html"),
    "md": ("report.md", "text/markdown"),
    "json": ("report.json", "application/json"),
    "bib": ("references.bib", "application/x-bibtex"),
}


def _guard(fn: Callable[..., None]) -> Callable[..., None]:
    """Run a button handler; show any error as a message in the form instead of a traceback."""

    @functools.wraps(fn)
    def run(self: AdvisorUI, *args: Any) -> None:
        try:
            fn(self, *args)
        except AdvisorError as exc:
            self.status.value = _html.message(str(exc), "err")
        except (ValueError, TypeError, RuntimeError) as exc:
            self.status.value = _html.message(f"{type(exc).__name__}: {exc}", "err")

    return run


class AdvisorUI:
    """The advisor form. Its widgets are attributes, so tests and scripts can drive it.

    Args:
        model: The user's ``torch.nn.Module`` or an :class:`advisor.ModelSpec` (or what a factory returns:
            see :func:`advisor.as_spec`), or None to describe a model in the form.
        example_inputs: A tensor or tuple of tensors for ``model(*inputs)`` (not needed with a ModelSpec).
        eval_fn: ``eval_fn(model) -> accuracy %``; without it, measurements report fidelity.
        name: Model name for reports.
        hardware: A :class:`~advisor.HardwareProfile`; detected when None.
        catalog: A :class:`~advisor.Catalog`; the shipped one when None.
        out_dir: Folder the export buttons write to.
        store: Results store path for measurements (None: the default store).
    """

    def __init__(
        self,
        model: Any = None,
        example_inputs: Any = None,
        *,
        eval_fn: Callable[[Any], float] | None = None,
        name: str | None = None,
        hardware: Any = None,
        catalog: Any = None,
        out_dir: str | Path = "green-advisor-report",
        store: str | Path | None = None,
    ) -> None:
        from advisor.catalog import load_catalog
        from advisor.profile.hardware import detect_hardware

        self.spec = None
        if model is not None:  # the one model-spec contract: a ModelSpec, a factory's tuple, or model + inputs
            from advisor.profile.spec import as_spec

            given = model if example_inputs is None else (model, example_inputs)
            self.spec = as_spec(given, "advise()", eval_fn=eval_fn, name=name)
            model, example_inputs, eval_fn = self.spec.model, self.spec.inputs, self.spec.eval_fn
            name = name or self.spec.name
        self.model, self.example_inputs, self.eval_fn = model, example_inputs, eval_fn
        self.catalog = catalog or load_catalog()
        self.hardware = hardware or detect_hardware()
        self.store = store
        self.recommendations: Any = None
        self.run: Any = None
        self.live_results: list[Any] = []
        self.profile: Any = None
        if model is not None:
            from advisor.profile.model import profile_model

            self.profile = profile_model(model, example_inputs, name=name)
        from advisor.ui._app_mode import app_mode, apply_to_form

        self.app = app_mode()  # served to others (Voila / operator): no visitor-typed paths, capped runs
        self._build(name, out_dir)
        apply_to_form(self)

    # --- layout -------------------------------------------------------------------------------
    def _build(self, name: str | None, out_dir: str | Path) -> None:
        lab = {"style": {"description_width": "180px"}, "layout": w.Layout(width="380px")}
        self._model_fields(name, lab)
        self._constraint_fields(lab)
        self._action_widgets(out_dir, lab)
        self._layout()

    def _model_fields(self, name: str | None, lab: dict[str, Any]) -> None:
        """The model's name, family, size and FLOPs (read-only when a model was passed)."""
        p = self.profile
        self.name = w.Text(value=name or (p.name if p else "my-model"), description="model name", **lab)
        self.family = w.Dropdown(options=FAMILIES, value=p.family if p else "unknown", description="family", **lab)
        self.params_m = w.BoundedFloatText(
            value=round(p.n_parameters / 1e6, 3) if p else 10.0, min=0, max=1e7, description="parameters (M)", **lab
        )
        self.gflops = w.BoundedFloatText(
            value=round((p.forward_flops or 0) / 1e9, 4) if p else 1.0,
            min=0,
            max=1e9,
            description="GFLOPs / forward",
            **lab,
        )
        for x in (self.family, self.params_m, self.gflops):
            x.disabled = p is not None  # introspected: the model, not the form, is the truth

    def _constraint_fields(self, lab: dict[str, Any]) -> None:
        """The goal and limits: phase, objective, accuracy drop, retraining, data, target, effort, region, PUE."""
        from advisor.profile.constraints import OBJECTIVES

        self.phase = w.Dropdown(
            options=["inference", "training", "both"], value="inference", description="phase", **lab
        )
        self.objective = w.Dropdown(options=list(OBJECTIVES), value="energy", description="objective", **lab)
        self.max_drop = w.FloatText(value=1.0, description="max accuracy drop (pp)", **lab)
        self.retraining = w.Dropdown(
            options=["none", "fine-tuning", "full"], value="none", description="retraining", **lab
        )
        self.data = w.Dropdown(
            options=["none", "calibration", "unlabelled", "labelled"],
            value="labelled",
            description="data at hand",
            **lab,
        )
        self.target = w.Dropdown(
            options=["server", "desktop", "edge", "mobile"], value="server", description="target", **lab
        )
        self.effort = w.Dropdown(options=["low", "medium", "high"], value="medium", description="effort", **lab)
        self.region = w.Text(value="", placeholder="e.g. FRA, DEU, USA", description="region (CO2e)", **lab)
        self.pue = w.FloatText(value=1.0, description="PUE", **lab)
        self.top = w.BoundedIntText(value=10, min=1, max=200, description="show top", **lab)

    def _action_widgets(self, out_dir: str | Path, lab: dict[str, Any]) -> None:
        """Buttons, outputs and their handlers (recommend, explain, measure, export)."""
        self.recommend_button = w.Button(description="Recommend", button_style="primary", icon="list")
        self.status = w.HTML()
        self.ranking = w.HTML()
        self.explain_select = w.Dropdown(options=[], description="explain", **lab)
        self.explanation = w.HTML()
        self.excluded = w.HTML()
        self.techniques = w.SelectMultiple(options=[], rows=6, description="measure", **lab)
        self.budget_s = w.BoundedFloatText(value=60.0, min=1, max=24 * 3600, description="budget (s)", **lab)
        self.measure_button = w.Button(
            description="Measure",
            button_style="warning",
            icon="tachometer",
            disabled=self.model is None,
            tooltip="needs a model: advise(model, example_inputs)",
        )
        self.progress = w.IntProgress(value=0, min=0, max=1, description="progress")
        self.progress_text = w.HTML()
        self.measurements = w.HTML()
        self.plots = w.Image(format="png", layout=w.Layout(max_width="900px"))
        self.out_dir = w.Text(value=str(out_dir), description="export to", **lab)
        self.export_buttons = {k: w.Button(description=f"Export {k.upper()}", icon="download") for k in EXPORTS}
        self.exported = w.HTML()

        self.recommend_button.on_click(self._on_recommend)
        self.measure_button.on_click(self._on_measure)
        self.explain_select.observe(self._on_explain, names="value")
        for k, b in self.export_buttons.items():
            b.on_click(functools.partial(self._on_export, k))

    def _layout(self) -> None:
        """The form beside the constraints, the status, and the tabs (Generate, Tune and Train included)."""
        p = self.profile
        esc = _html.html.escape
        hw = "<br>".join(esc(line) for line in self.hardware.summary_lines())
        prof = "<br>".join(esc(line) for line in p.summary_lines()) if p else "No model passed: describe it below."
        form = w.VBox(
            [
                w.HTML(f"<b>Model</b><br><small>{prof}</small>"),
                self.name,
                self.family,
                self.params_m,
                self.gflops,
                w.HTML(f"<b>This machine</b><br><small>{hw}</small>"),
            ]
        )
        cons = w.VBox(
            [
                w.HTML("<b>Goal and limits</b>"),
                self.phase,
                self.objective,
                self.max_drop,
                self.retraining,
                self.data,
                self.target,
                self.effort,
                self.region,
                self.pue,
                self.top,
                self.recommend_button,
            ]
        )
        from advisor.ui._advise_generate import GeneratePanel

        spec = self.spec
        self.generate_panel = GeneratePanel(
            self.model,
            tokenizer=spec.tokenizer if spec else None,
            draft_model=spec.draft_model if spec else None,
            profile=self.profile,
            hardware=self.hardware,
            catalog=self.catalog,
            app=self.app,
        )
        self.tabs = w.Tab(
            children=[
                w.VBox([self.ranking, self.explain_select, self.explanation]),
                self.excluded,
                w.VBox(
                    [
                        self.techniques,
                        self.budget_s,
                        self.measure_button,
                        w.HBox([self.progress, self.progress_text]),
                        self.measurements,
                        self.plots,
                    ]
                ),
                w.VBox([self.out_dir, w.HBox(list(self.export_buttons.values())), self.exported]),
                self.generate_panel.widget,
            ]
        )
        for i, title in enumerate(["Recommendations", "Excluded", "Measure", "Export", "Generate"]):
            self.tabs.set_title(i, title)
        self.widget = w.VBox([w.HBox([form, cons]), self.status, self.tabs])
        from advisor.ui._advise_tune import add_tune_tab

        add_tune_tab(self)  # the Tune tab (issue 11): recommend, measure here, re-rank, plan
        from advisor.ui._advise_train import add_train_tab

        add_train_tab(self)  # the Train tab: energy to a target accuracy per training technique

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # --- reading the form ---------------------------------------------------------------------
    def constraints(self) -> Any:
        """The constraints in the form; a bad value raises :class:`~advisor.ConstraintError`."""
        from advisor.profile.constraints import Constraints

        if self.max_drop.value < 0:
            raise ConstraintError(
                f"max accuracy drop: expected a number of percentage points >= 0, got {self.max_drop.value:g}. "
                "Enter 0 to allow no loss at all."
            )
        return Constraints.make(
            phase=self.phase.value,
            objective=self.objective.value,
            max_accuracy_drop_pp=self.max_drop.value,
            retraining=self.retraining.value,
            data=self.data.value,
            target=self.target.value,
            effort=self.effort.value,
        )

    def carbon_settings(self) -> tuple[str | None, float]:
        """``(region, pue)`` from the form, checked against the shipped carbon-intensity table."""
        from advisor.measurement.carbon import check_pue, get_intensity

        pue = check_pue(self.pue.value)  # below 1.0 -> ConstraintError naming the fix
        region = self.region.value.strip() or None
        if region:
            region = get_intensity(region).region  # unknown -> ConstraintError with close matches
        return region, pue

    def model_profile(self) -> Any:
        """The profile: introspected from the model, or built from the form."""
        from advisor.profile.model import ModelProfile

        if self.profile is not None:
            return self.profile.model_copy(
                update={"name": self.name.value or self.profile.name, "phase": self.phase.value}
            )
        if self.params_m.value <= 0:
            raise ConstraintError(
                f"parameters (M): expected a positive number of millions, got {self.params_m.value:g}"
            )
        return ModelProfile(
            name=self.name.value or "model",
            family=self.family.value,
            phase=self.phase.value,
            n_parameters=int(self.params_m.value * 1e6),
            forward_flops=int(self.gflops.value * 1e9) or None,
            source="form",
        )

    # --- actions ------------------------------------------------------------------------------
    @_guard
    def _on_recommend(self, _button: Any = None) -> None:
        from advisor.recommendation import recommend

        constraints = self.constraints()
        self.carbon_settings()
        self.status.value = _html.message("ranking ...")
        from advisor.measurement.appliers import available_ids
        from advisor.measurement.store import ResultStore
        from advisor.tuning import knowledge_for

        knowledge = knowledge_for(ResultStore(self.store), self.hardware)  # this machine's earlier runs
        rec = recommend(
            self.model_profile(),
            self.hardware,
            constraints,
            self.catalog,
            measurable=available_ids(),
            knowledge=knowledge,
        )
        self.recommendations = rec
        rows = [
            {
                "rank": r.rank,
                "technique": r.name,
                "id": r.id,
                "expected": r.expected_text(),
                "confidence": r.estimate.confidence,
                "accuracy risk": r.accuracy_risk,
                "effort": r.effort,
                "measurable here": r.measurable_here,
                "warnings": "; ".join(f.text for f in r.warnings),
            }
            for r in rec.recommended[: self.top.value]
        ]
        cols = [
            "rank",
            "technique",
            "id",
            "expected",
            "confidence",
            "accuracy risk",
            "effort",
            "measurable here",
            "warnings",
        ]
        self.ranking.value = _html.table(rows, cols)
        self.excluded.value = _html.table(
            [{"id": e.id, "reasons": "; ".join(f.text for f in e.reasons)} for e in rec.excluded_items],
            ["id", "reasons"],
        )
        self.explain_select.options = [r.id for r in rec.recommended[: self.top.value]]
        measurable = [r.id for r in rec.recommended if r.measurable_here]
        from advisor.measurement.appliers import available_ids

        others = [tid for tid in available_ids() if tid not in measurable]  # applicable, but not recommended here
        self.techniques.options = [(f"#{rec.rank_of(t)} {t}", t) for t in measurable] + [
            (f"(not recommended) {t}", t) for t in others
        ]
        self.techniques.value = tuple(measurable[:3])
        self.status.value = _html.message(
            f"{len(rec.recommended)} techniques recommended, {len(rec.excluded_items)} excluded; "
            f"{len(measurable)} can be measured here."
        )

    def _on_explain(self, change: dict[str, Any]) -> None:
        if self.recommendations is None or not change["new"]:
            self.explanation.value = ""
            return
        text = self.recommendations.explain(change["new"])
        self.explanation.value = f"<pre style='white-space:pre-wrap'>{_html.html.escape(text)}</pre>"

    @_guard
    def _on_measure(self, _button: Any = None) -> None:
        from advisor.measurement.run import measure

        if self.model is None:
            raise ConstraintError("Measure needs a model: open the form with advise(model, example_inputs)")
        ids = list(self.techniques.value)
        if not ids:
            raise ConstraintError("Measure: choose at least one technique (click Recommend first, then select)")
        if self.budget_s.value <= 0:
            raise ConstraintError(f"budget (s): expected a positive number of seconds, got {self.budget_s.value:g}")
        self.app.check_request(len(ids), float(self.budget_s.value))  # app mode: the operator's caps
        region, pue = self.carbon_settings()
        self.live_results = []
        self.progress.max, self.progress.value = len(ids) + 1, 0
        self.measure_button.disabled = True
        self._t0 = time.perf_counter()
        self.status.value = _html.message(f"measuring {len(ids)} techniques against the baseline ...")
        from advisor.ui._app_mode import engine_settings, queue_messages, waited_text

        def queued(info: dict[str, Any]) -> None:  # the machine is busy: say who we wait for
            self.progress_text.value = _html.message(info["message"], "warn")

        try:
            self.run = queue_messages(measure, queued)(
                self.model,
                self.example_inputs,
                ids,
                eval_fn=self.eval_fn,
                budget_s=float(self.budget_s.value),
                store=self.store,
                progress=False,
                region=region,
                pue=pue,
                on_result=self._on_result,
                name=self.name.value or None,
                settings=engine_settings(self),
            )
        finally:
            self.measure_button.disabled = False
        self.status.value = _html.message(
            f"measurement {self.run.status}: {sum(r.status == 'ok' for r in self.run.results)} of {len(ids)} "
            f"techniques measured; energy method: {', '.join(self.run.meter_descriptions)}; run id {self.run.run_id}"
        )
        if waited_text(self.run):
            self.status.value += _html.message(waited_text(self.run))
        load_note = self.run.load_warning()
        if load_note:
            self.status.value += _html.message(f"Warning: {load_note}", "warn")

    def _on_result(self, result: Any) -> None:
        """Called by ``measure`` as each result is stored: fill the table and plots in."""
        self.live_results.append(result)
        self.progress.value = len(self.live_results)
        elapsed = time.perf_counter() - self._t0
        left = self.progress.max - self.progress.value
        eta = elapsed / self.progress.value * left
        self.progress_text.value = _html.message(
            f"{self.progress.value}/{self.progress.max} done, {elapsed:.0f} s elapsed, about {eta:.0f} s left"
        )
        self.measurements.value = _html.table([_result_row(r) for r in self.live_results], RESULT_COLUMNS)
        from advisor.ui._measure_plots import results_png

        self.plots.value = results_png(self.live_results)

    @_guard
    def _on_export(self, kind: str, _button: Any = None) -> None:
        from advisor.reports import report

        if self.recommendations is None and self.run is None:
            raise ConstraintError("Export: nothing to export yet; click Recommend (and Measure) first")
        filename, mime = EXPORTS[kind]
        out = self.app.export_path(filename) if self.app.enabled else Path(self.out_dir.value).expanduser() / filename
        paths = report(
            measurement=self.run,
            recommendations=self.recommendations,
            out=out,
            title=f"green-dl-advisor report: {self.name.value}",
        )
        written = next(iter(paths.values()))
        link = _html.download_link(written.read_bytes(), written.name, mime, f"download {written.name}")
        where = written.name if self.app.enabled else written.resolve()  # app mode: no server paths shown
        self.exported.value = _html.message(f"wrote {where}") + link


RESULT_COLUMNS = [
    "technique",
    "status",
    "latency_ms",
    "latency_ms_iqr",
    "comparison",
    "energy_j_per_call",
    "energy_ratio_interval",
    "energy_method",
    "co2e_g_per_1k_calls",
    "quality",
    "predicted_ratio",
    "outside_prediction",
]


def _result_row(r: Any) -> dict[str, Any]:
    """The form's row: the result's own summary row (``result_row``), with quality and the ranges as text."""
    from advisor.reports import quality_text

    row = r.row()
    low, high = row["predicted_low"], row["predicted_high"]
    energy = row["energy_ratio"]
    if row["energy_ratio_low"] is not None:  # e.g. "x0.71 (0.66-0.77), less energy"
        energy = (
            f"x{row['energy_ratio']:.2f} ({row['energy_ratio_low']:.2f}-{row['energy_ratio_high']:.2f}), "
            f"{row['energy_verdict']}"
        )
    return {
        **row,
        "energy_ratio_interval": energy,
        "quality": quality_text(r.quality) if r.quality is not None else None,  # the one rule's verdict
        "predicted_ratio": f"{low:.2f}–{high:.2f}" if low is not None and high is not None else None,
    }


def advise(model: Any = None, example_inputs: Any = None, **kwargs: Any) -> AdvisorUI:
    """Open the advisor form; see :class:`AdvisorUI` for the arguments."""
    return AdvisorUI(model, example_inputs, **kwargs)
