"""The Generate tab of the advisor form: energy per token of ``generate`` per batch size and technique.

Shown for every model; it measures only when the form's model has ``generate`` (a transformers
causal LM), and says so otherwise. The result is the report's generation section (J/token table,
time-vs-energy frontier, advice per batch size, Reporting) rendered in the tab.
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

    def __init__(self, model: Any = None, tokenizer: Any = None, draft_model: Any = None) -> None:
        import ipywidgets as w

        from advisor.measurement import DEFAULT_GENERATION_TECHNIQUES

        self.model, self.tokenizer, self.draft_model = model, tokenizer, draft_model
        self.run: Any = None
        self.batch_sizes = w.Text(value="1,4,16", description="Batch sizes")
        self.max_new_tokens = w.BoundedIntText(value=32, min=2, max=4096, description="New tokens")
        self.techniques = w.SelectMultiple(options=list(DEFAULT_GENERATION_TECHNIQUES),
                                           value=list(DEFAULT_GENERATION_TECHNIQUES), rows=6,
                                           description="Techniques")  # fmt: skip
        self.budget_s = w.BoundedFloatText(value=60.0, min=1.0, max=7200.0, description="Budget (s)")
        self.button = w.Button(description="Measure generation", button_style="primary",
                               disabled=not hasattr(model, "generate"))  # fmt: skip
        self.status = w.HTML(self._status_text())
        self.result = w.HTML()
        self.button.on_click(self.measure)
        self.widget = w.VBox([self.batch_sizes, self.max_new_tokens, self.techniques, self.budget_s, self.button,
                              self.status, self.result])  # fmt: skip

    def _status_text(self) -> str:
        if not hasattr(self.model, "generate"):
            return ("This model has no <code>generate()</code>: the Generate tab measures text generation of "
                    "causal LMs (pass one to <code>advise()</code>).")  # fmt: skip
        return "Measures prefill and decode, J per token, per batch size and technique."

    def measure(self, _button: Any = None) -> None:
        """Run ``measure_generation`` with the tab's settings and show the generation section."""
        from advisor._errors import AdvisorError
        from advisor.measurement import measure_generation
        from advisor.reports import generation_html

        try:
            sizes = [int(x) for x in self.batch_sizes.value.split(",") if x.strip()]
        except ValueError:
            self.status.value = f"Batch sizes: expected integers like 1,4,16, got {self.batch_sizes.value!r}"
            return
        self.status.value = "measuring..."
        try:
            from advisor.ui._app_mode import app_mode

            app_mode().check_request(len(self.techniques.value), float(self.budget_s.value))  # app mode: the caps
            self.run = measure_generation(
                self.model, self.tokenizer, max_new_tokens=int(self.max_new_tokens.value), batch_sizes=sizes,
                techniques=list(self.techniques.value), draft_model=self.draft_model,
                budget_s=float(self.budget_s.value),
            )  # fmt: skip
        except AdvisorError as exc:
            self.status.value = f"error: {exc}"
            return
        self.status.value = f"run {self.run.run_id}: {self.run.status}"
        self.result.value = generation_html(self.run)
