"""The Train tab of the advisor form: energy to a target accuracy per training technique, from scratch.

Shown for every form; it trains only when the form's spec carries a :class:`~advisor.TrainingSetup`
(``advise(advisor.examples.digits_training())``), and says how to pass one otherwise. Pressing *Train to target*
runs :func:`advisor.measure_to_target` (every technique trained from scratch over interleaved seeds until the
target, paired with the baseline) and shows the report's training section: the to-target table with intervals
and outcomes, the projection, and the metric-vs-energy curves with the target line.

In app mode (a shared server) the default selection is capped at ``app_max_techniques`` techniques and the budget
at ``app_max_budget_s``, so the default request is one the server accepts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrainPanel", "add_train_tab"]


class TrainPanel:
    """Widgets and the train action of the Train tab.

    Args:
        spec: The form's :class:`~advisor.ModelSpec`; it trains when ``spec.training`` is set (None: the tab
            explains how to pass one).
        app: The app-mode settings (default: read from the environment).
    """

    def __init__(self, spec: Any = None, *, app: Any = None) -> None:
        import ipywidgets as w

        from advisor.training import DEFAULT_TECHNIQUES, TECHNIQUES
        from advisor.ui._app_mode import app_mode

        self.spec = spec
        self.setup = setup = getattr(spec, "training", None)
        self.app = app if app is not None else app_mode()
        self.run: Any = None
        lab = {"style": {"description_width": "initial"}}
        default = list(DEFAULT_TECHNIQUES)
        selected = default[: self.app.max_techniques] if self.app.enabled else default
        target = getattr(setup, "target", None) or 0.95
        self.target = w.BoundedFloatText(value=target, min=1e-6, max=1e9, description="target metric", **lab)
        self.techniques = w.SelectMultiple(options=list(TECHNIQUES), value=selected, rows=8, description="techniques")
        self.seeds = w.BoundedIntText(value=3, min=1, max=50, description="seeds", **lab)
        self.budget_s = w.BoundedFloatText(
            value=min(300.0, self.app.max_budget_s), min=1.0, max=24 * 3600, description="budget (s)", **lab
        )
        self.button = w.Button(
            description="Train to target", button_style="primary", icon="flag-checkered", disabled=setup is None
        )
        self.status = w.HTML(self._status_text())
        self.result = w.HTML()
        self.button.on_click(self.train)
        controls = [self.target, self.techniques, self.seeds, self.budget_s, self.button]
        self.widget = w.VBox([*controls, self.status, self.result])

    def _status_text(self) -> str:
        if self.setup is None:
            return (
                "No training set-up: the Train tab trains each technique from scratch to a target accuracy. Pass "
                "a spec with <code>training=TrainingSetup(build_model, train_data, eval_fn)</code>, e.g. "
                "<code>advise(advisor.examples.digits_training())</code>."
            )
        return (
            "Trains the baseline and each technique from scratch until the metric reaches the target, over "
            "interleaved seeds: energy, time and steps <i>to the target</i>, not per step."
        )

    def train(self, _button: Any = None) -> None:
        """Run ``measure_to_target`` with the tab's settings and show the training section."""
        from advisor._errors import AdvisorError
        from advisor.reports import training_html
        from advisor.training import measure_to_target

        if self.setup is None:
            return
        ids = list(self.techniques.value)
        self.status.value = "training..."
        self.button.disabled = True
        try:
            self.app.check_request(len(ids), float(self.budget_s.value))  # app mode: the caps
            self.run = measure_to_target(
                self.spec, float(self.target.value), ids, int(self.seeds.value), float(self.budget_s.value)
            )
        except AdvisorError as exc:
            self.status.value = f"error: {exc}"
            return
        finally:
            self.button.disabled = False
        where = f"run {self.run.run_id}" if self.run.run_id else "not stored"
        self.status.value = f"{where}: {self.run.status}. {self.run.outcome}"
        self.result.value = training_html(self.run)


def add_train_tab(form: Any) -> TrainPanel:
    """Add the Train tab to ``form.tabs`` and return its panel (also ``form.train_panel``)."""
    panel = TrainPanel(getattr(form, "spec", None), app=getattr(form, "app", None))
    form.train_panel = panel
    form.tabs.children = (*form.tabs.children, panel.widget)
    form.tabs.set_title(len(form.tabs.children) - 1, "Train")
    return panel
