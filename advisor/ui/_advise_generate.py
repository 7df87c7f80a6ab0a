"""The Generate tab of the advisor form: energy per token of ``generate`` per batch size and technique.

Shown for every model; it measures only when the form's model has ``generate`` (a transformers
causal LM), and says so otherwise. The result is the report's generation section (J/token table,
time-vs-energy frontier, advice per batch size, Reporting) rendered in the tab.

The technique list is in the advice's order (:func:`advisor.tuning.generation_order`: tune's
shortlist first); by default every technique measurable here is selected, and in app mode (a shared
server) the first ``app_max_techniques`` of them, with a budget within ``app_max_budget_s``: the default
request is always one the server accepts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GeneratePanel"]


class GeneratePanel:
    """Widgets and the measure action of the Generate tab.

    Args:
        model: The form's model (measured only if it has ``generate``).
        tokenizer: Its tokenizer, if any (for prompts and perplexity).
        draft_model: A draft model for assisted generation, if any.
    """

    def __init__(
        self,
        model: Any = None,
        tokenizer: Any = None,
        draft_model: Any = None,
        *,
        profile: Any = None,
        hardware: Any = None,
        catalog: Any = None,
        app: Any = None,
    ) -> None:
        import ipywidgets as w

        from advisor.ui._app_mode import app_mode

        self.model, self.tokenizer, self.draft_model = model, tokenizer, draft_model
        self.app = app if app is not None else app_mode()
        self.run: Any = None
        options, selected = self._techniques(profile, hardware, catalog)
        self.batch_sizes = w.Text(value="1,4,16", description="Batch sizes")
        self.max_new_tokens = w.BoundedIntText(value=32, min=2, max=4096, description="New tokens")
        self.techniques = w.SelectMultiple(options=options, value=selected, rows=6, description="Techniques")
        self.budget_s = w.BoundedFloatText(
            value=min(60.0, self.app.max_budget_s), min=1.0, max=7200.0, description="Budget (s)"
        )
        self.button = w.Button(
            description="Measure generation", button_style="primary", disabled=not hasattr(model, "generate")
        )
        self.status = w.HTML(self._status_text())
        self.result = w.HTML()
        self.button.on_click(self.measure)
        self.widget = w.VBox(
            [
                self.batch_sizes,
                self.max_new_tokens,
                self.techniques,
                self.budget_s,
                self.button,
                self.status,
                self.result,
            ]
        )

    def _techniques(self, profile: Any, hardware: Any, catalog: Any) -> tuple[list[str], list[str]]:
        """(every option in the advice's order, the default selection: measurable here, capped in app mode)."""
        from advisor.generation import default_generation_ids

        every = default_generation_ids(self.model)
        ranked = every
        if hasattr(self.model, "generate") and profile is not None:
            from advisor.catalog import load_catalog
            from advisor.profile.hardware import detect_hardware
            from advisor.tuning import generation_order

            ranked = generation_order(
                self.model,
                profile,
                hardware or detect_hardware(),
                catalog or load_catalog(),
                draft_model=self.draft_model,
            )
        options = ranked + [v for v in every if v not in ranked]
        return options, ranked[: self.app.max_techniques] if self.app.enabled else ranked

    def _status_text(self) -> str:
        if not hasattr(self.model, "generate"):
            return (
                "This model has no <code>generate()</code>: the Generate tab measures text generation of "
                "causal LMs (pass one to <code>advise()</code>)."
            )
        return "Measures prefill and decode, J per token, per batch size and technique."

    def measure(self, _button: Any = None) -> None:
        """Run ``measure_generation`` with the tab's settings and show the generation section."""
        from advisor._errors import AdvisorError
        from advisor.generation import measure_generation
        from advisor.reports import generation_html

        try:
            sizes = [int(x) for x in self.batch_sizes.value.split(",") if x.strip()]
        except ValueError:
            self.status.value = f"Batch sizes: expected integers like 1,4,16, got {self.batch_sizes.value!r}"
            return
        self.status.value = "measuring..."
        try:
            self.app.check_request(len(self.techniques.value), float(self.budget_s.value))  # app mode: the caps
            self.run = measure_generation(
                self.model,
                self.tokenizer,
                max_new_tokens=int(self.max_new_tokens.value),
                batch_sizes=sizes,
                techniques=list(self.techniques.value),
                draft_model=self.draft_model,
                budget_s=float(self.budget_s.value),
            )
        except AdvisorError as exc:
            self.status.value = f"error: {exc}"
            return
        self.status.value = f"run {self.run.run_id}: {self.run.status}"
        self.result.value = generation_html(self.run)
