"""The Tune tab of the advisor form: recommend, measure the most promising variants here, re-rank, plan.

The same :func:`advisor.tune` as the CLI and the demo, with the form's constraints, region and PUE; each
measured variant appears in the table as soon as its rounds are done, then the plan (headline, how to
apply the winner, runners-up, what does not pay off, what is worth more effort) replaces the status.
"""

from __future__ import annotations

from typing import Any

from advisor.ui import _html

__all__ = ["TunePanel", "add_tune_tab"]

COLUMNS = ["variant", "result", "quality", "pays off", "why not"]


def _row(c: Any) -> dict[str, Any]:
    name = c.variant if getattr(c, "batch_size", None) is None else f"{c.variant} [batch {c.batch_size}]"
    return {
        "variant": name,
        "result": c.summary().split(": ", 1)[-1] if c.latency_ratio is not None else c.status,
        "quality": getattr(c, "quality_status", None) or "-",
        "pays off": "yes" if c.pays_off else "no",
        "why not": c.reason or "",
    }


def _per_batch_html(plan: Any) -> str:
    """Generation plans: the pick per batch size and where each technique pays off."""
    esc = _html.html.escape
    if not plan.per_batch:
        return ""
    picks = "".join(f"<li>{esc(p.text())}</li>" for p in plan.per_batch)
    lines = "".join(f"<li>{esc(x)}</li>" for x in plan.crossover)
    return f"<b>Per batch size (generation, per output token)</b><ul>{picks}</ul>" + (
        f"<b>Where each technique pays off (measured here)</b><ul>{lines}</ul>" if lines else ""
    )


def plan_html(plan: Any) -> str:
    """The plan as HTML: the headline, how to apply the winner, then the tables."""
    esc = _html.html.escape
    parts = [f"<h3>{esc(plan.headline())}</h3>"]
    if plan.winner is not None:
        how = "".join(f"<li><code>{esc(h)}</code></li>" for h in plan.winner.how_to_apply)
        parts.append(f"<b>How to apply {esc(plan.winner.variant)}</b><ul>{how}</ul>")
        if plan.artifact:
            parts.append(f"<small>saved: {esc(str(plan.artifact.get('path') or plan.artifact.get('error')))}</small>")
    parts.append(_per_batch_html(plan))
    if getattr(plan, "recoveries", None):
        from advisor.tuning import recovery_text

        items = "".join(f"<li>{esc(recovery_text(r))}</li>" for r in plan.recoveries)
        parts.append(f"<b>Recovering int8 variants that failed the quality gate</b><ul>{items}</ul>")
    measured = ([plan.winner] if plan.winner else []) + plan.runners_up + plan.no_payoff
    if measured:
        parts.append("<b>Measured here</b>" + _html.table([_row(c) for c in measured], COLUMNS))
    if plan.known_no_payoff:
        rows = [{"technique": k["id"], "why": k["reason"]} for k in plan.known_no_payoff]
        parts.append(
            "<b>Not re-measured: earlier runs here say it does not pay off</b>"
            + _html.table(rows, ["technique", "why"])
        )
    if plan.more_effort:
        rows = [{"technique": m["id"], "expected": m["expected"], "group": m["group"]} for m in plan.more_effort]
        parts.append(
            "<b>Worth trying with more effort (literature)</b>" + _html.table(rows, ["technique", "expected", "group"])
        )
    notes = "".join(f"<li>{esc(n)}</li>" for n in plan.notes)
    parts.append(
        f"<small>measured {plan.measured} variants in {plan.elapsed_s:.0f} s; runs "
        f"{esc(', '.join(plan.run_ids) or 'none')}; plan {esc(str(plan.plan_id))}</small>"
        + (f"<ul>{notes}</ul>" if notes else "")
    )
    return "".join(parts)


class TunePanel:
    """Widgets and the action of the Tune tab.

    Args:
        form: The :class:`advisor.ui.advise.AdvisorUI` it belongs to (model, constraints, store, region).
    """

    def __init__(self, form: Any) -> None:
        import ipywidgets as w

        self.form = form
        self.plan: Any = None
        self.live: list[Any] = []
        self.budget_s = w.BoundedFloatText(value=60.0, min=1.0, max=24 * 3600, description="budget (s)")
        tip = "needs a model: advise(model, example_inputs)"
        self.button = w.Button(
            description="Tune", button_style="success", icon="magic", disabled=form.model is None, tooltip=tip
        )
        self.status = w.HTML(
            "Recommends, measures the most promising variants on this machine, re-ranks on the measurements and "
            "says what to do."
            if form.model is not None
            else "Tune needs a model: open the form with advise(model, example_inputs)."
        )
        self.result = w.HTML()
        self.button.on_click(self.tune)
        self.widget = w.VBox([self.budget_s, self.button, self.status, self.result])

    def _on_result(self, r: Any) -> None:
        if r.technique == "baseline":
            return
        self.live.append(r)
        rows = [
            {
                "variant": x.technique,
                "result": x.comparison.text() if x.comparison else x.status,
                "pays off": "?",
                "why not": x.reason or "",
            }
            for x in self.live
        ]
        self.result.value = "<b>Measured so far</b>" + _html.table(rows, COLUMNS)

    def tune(self, _button: Any = None) -> None:
        """Run :func:`advisor.tune` with the form's settings and show the plan."""
        from advisor._errors import AdvisorError
        from advisor.tuning import tune

        f = self.form
        self.live = []
        self.button.disabled = True
        self.status.value = _html.message(
            f"tuning: recommend, then measure here for up to {self.budget_s.value:g} s ..."
        )
        try:
            f.app.check_request(1, float(self.budget_s.value))  # app mode: the operator's budget cap
            region, pue = f.carbon_settings()
            c = f.constraints()
            phase = "training" if c.phase == "training" else "inference"
            self.plan = tune(
                f.model,
                f.example_inputs,
                f.eval_fn,
                None,
                c,
                float(self.budget_s.value),
                phase=phase,
                store=f.store,
                region=region,
                pue=pue,
                name=f.name.value or None,
                progress=False,
                hardware=f.hardware,
                catalog=f.catalog,
                on_result=self._on_result,
            )
        except AdvisorError as exc:
            self.status.value = _html.message(str(exc), "err")
            return
        finally:
            self.button.disabled = f.model is None
        self.status.value = _html.message(self.plan.headline(), "ok" if self.plan.winner else "warn")
        self.result.value = plan_html(self.plan)


def add_tune_tab(form: Any) -> TunePanel:
    """Add the Tune tab to ``form.tabs`` and return its panel (also ``form.tune_panel``)."""
    panel = TunePanel(form)
    form.tune_panel = panel
    form.tabs.children = (*form.tabs.children, panel.widget)
    form.tabs.set_title(len(form.tabs.children) - 1, "Tune")
    return panel
