"""The result of :func:`advisor.tune`: a plan, measured where it could be, from the literature where not."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from advisor._version import RESULT_SCHEMA_VERSION

__all__ = ["BatchPick", "Candidate", "TunePlan", "recovery_text"]


def _iv(iv: Any) -> dict[str, Any] | None:
    return iv.to_dict() if iv is not None and hasattr(iv, "to_dict") else iv


def _range(a: float, b: float) -> str:
    return f"{a:.2f}-{b:.2f}" if max(a, b) < 2 else f"{a:.1f}-{b:.1f}"


@dataclass
class Candidate:
    """One measured variant, judged.

    Attributes:
        variant: The variant id (``torch-compile``, ``a+b``, ``openvino-runtime@fp32``).
        status: The engine's status (``ok``, ``not-applicable``, ``failed``, ``skipped-budget``, ``interrupted``).
        verdict: ``faster``, ``slower``, ``no significant difference`` or ``inconclusive`` (None if not compared).
        latency_ratio: Variant / baseline time per item (an :class:`advisor.measurement.Interval`), lower is better.
        energy_ratio: Variant / baseline energy per item (an Interval), lower is better.
        energy_verdict: ``less energy``, ``more energy``, ``no significant difference`` or ``inconclusive``.
        energy_method: How the energy was obtained (``estimated-...`` on machines without counters).
        accuracy_change_pp: ``eval_fn`` of the variant minus the baseline's (in eval_fn's units, percent points).
        fidelity: Agreement with the original outputs on held-out inputs, one key per metric (``top1_agreement``,
            ``top5_overlap``, ``token_agreement``, ``cosine_similarity``, ``relative_error``).
        quality_ok: Within the quality gate (None when it could not be checked): ``quality_status`` as a triple.
        pays_off: Measured better on the objective and not failing the quality gate.
        reason: Why it does not pay off, or what to keep in mind.
        how_to_apply: Library calls (with notes) that apply it, from the catalog.
        run_id: The measurement run it comes from.
        projection: Training only: the whole run's time/energy/CO2e saving against the baseline.
        batch_size: Generation only: the batch size it was measured at (ratios are per output token).
        acceptance_rate: Generation only: accepted / proposed tokens of a speculative variant.
        j_per_output_token: Generation only: energy per output token (an Interval). Units: J.
        quality_status: ``verified``, ``failed`` or ``unverified`` (:func:`advisor.measurement.quality.judge_quality`
            under the constraints; None where an older path judged only ``quality_ok``).
        quality_figure: The deciding quality figure as text (``top-1 agreement 0.984 on 64 held-out inputs, ...``).
        quality_inputs: What the output figures were measured on (``64 held-out inputs, generated like ...``).
        recovered_from: A recovery only: the int8 variant whose quality failed the gate and that this one replaces.
        reverted: A recovery only: what was kept in higher precision (layers, scopes) or given up (int8).
    """

    variant: str
    status: str
    verdict: str | None = None
    latency_ratio: Any = None
    energy_ratio: Any = None
    energy_verdict: str | None = None
    energy_method: str | None = None
    accuracy_change_pp: float | None = None
    fidelity: dict[str, float] = field(default_factory=dict)
    quality_ok: bool | None = None
    pays_off: bool = False
    reason: str | None = None
    how_to_apply: list[str] = field(default_factory=list)
    run_id: str | None = None
    projection: dict[str, Any] | None = None
    batch_size: int | None = None
    acceptance_rate: float | None = None
    j_per_output_token: Any = None
    quality_status: str | None = None
    quality_figure: str | None = None
    quality_inputs: str | None = None
    recovered_from: str | None = None
    reverted: str | None = None

    @property
    def verified(self) -> bool:
        """Quality verified within the gate (older candidates without a status: ``quality_ok`` is True)."""
        return self.quality_status == "verified" or (self.quality_status is None and self.quality_ok is True)

    @property
    def speedup(self) -> Any:
        """The latency ratio as a speed-up interval (baseline / variant), for display."""
        return self.latency_ratio.inverted() if self.latency_ratio is not None else None

    def speed_text(self) -> str:
        """E.g. ``5.0x faster (4.8-5.2)``, ``1.30x slower (1.20-1.40)``, ``inconclusive (speed-up 1.9x, 0.8-4.0)``."""
        lr = self.latency_ratio
        if lr is None:
            return self.status if self.status != "ok" else "not compared"
        s = lr.inverted()
        if self.verdict == "faster":
            return f"{s.median:.1f}x faster ({_range(s.low, s.high)})"
        if self.verdict == "slower":
            return f"{lr.median:.2f}x slower ({_range(lr.low, lr.high)})"
        return f"{self.verdict} (speed-up {s.median:.2f}x, {_range(s.low, s.high)})"

    def energy_text(self) -> str:
        """E.g. ``energy x0.20`` (with an ``estimated`` note when no counter was read)."""
        er = self.energy_ratio
        if er is None:
            return "energy not measured"
        est = " (estimated)" if self.energy_method and "estimat" in self.energy_method else ""
        return f"energy x{er.median:.2f}{est}"

    def quality_text(self) -> str:
        """E.g. ``top-1 agreement 0.984 on 64 held-out inputs, ...``, ``accuracy +0.0 pp`` or ``quality unknown``."""
        if self.quality_figure:
            return self.quality_figure
        if self.accuracy_change_pp is not None:
            return f"accuracy {self.accuracy_change_pp:+.1f} pp"
        if "top1_agreement" in self.fidelity:
            return f"fidelity: top-1 agreement {self.fidelity['top1_agreement'] * 100:.1f} %"
        if "cosine_similarity" in self.fidelity:
            return f"fidelity: cosine similarity {self.fidelity['cosine_similarity']:.4f}"
        if "perplexity_ratio" in self.fidelity:
            return f"perplexity x{self.fidelity['perplexity_ratio']:.3f}"
        if "greedy_agreement" in self.fidelity:
            return f"greedy agreement {self.fidelity['greedy_agreement']:.0%}"
        return {"unverified": "quality unknown", "failed": "quality FAILED"}.get(
            self.quality_status or "", "quality not checked"
        )

    def summary(self) -> str:
        """One line: variant, speed, energy, quality (and the reason when it does not pay off)."""
        name = self.variant if self.batch_size is None else f"{self.variant} at batch {self.batch_size}"
        if self.latency_ratio is None:
            return f"{name}: {self.status}" + (f": {self.reason}" if self.reason else "")
        acc = f", {self.acceptance_rate:.0%} acceptance" if self.acceptance_rate is not None else ""
        line = f"{name}: measured {self.speed_text()}, {self.energy_text()}{acc}, {self.quality_text()}"
        return line + (f" [{self.reason}]" if self.reason else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "variant": self.variant,
            "status": self.status,
            "verdict": self.verdict,
            "latency_ratio": _iv(self.latency_ratio),
            "speedup": _iv(self.speedup),
            "energy_ratio": _iv(self.energy_ratio),
            "energy_verdict": self.energy_verdict,
            "energy_method": self.energy_method,
            "accuracy_change_pp": self.accuracy_change_pp,
            "fidelity": dict(self.fidelity),
            "quality_ok": self.quality_ok,
            "pays_off": self.pays_off,
            "reason": self.reason,
            "how_to_apply": list(self.how_to_apply),
            "run_id": self.run_id,
            "projection": self.projection,
            "batch_size": self.batch_size,
            "acceptance_rate": self.acceptance_rate,
            "j_per_output_token": _iv(self.j_per_output_token),
            "quality_status": self.quality_status,
            "quality_figure": self.quality_figure,
            "quality_inputs": self.quality_inputs,
            "recovered_from": self.recovered_from,
            "reverted": self.reverted,
            "summary": self.summary(),
        }


@dataclass
class BatchPick:
    """Generation: what to use at one batch size (per output token).

    Attributes:
        batch_size: Prompts per ``generate`` call.
        winner: The variant picked there (None: keep the baseline, nothing measured better).
        objective: What it was picked on.
    """

    batch_size: int
    winner: Candidate | None
    objective: str = "energy"

    def text(self) -> str:
        """E.g. ``batch 4: torchao-int8-weight-only-quantization: 1.3x faster (1.2-1.4), energy x0.75``."""
        w = self.winner
        if w is None:
            return f"batch {self.batch_size}: keep the baseline (nothing measured better on {self.objective})"
        acc = f" at {w.acceptance_rate:.0%} acceptance" if w.acceptance_rate is not None else ""
        return f"batch {self.batch_size}: {w.variant}: {w.speed_text()}{acc}, {w.energy_text()}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "batch_size": self.batch_size,
            "winner": self.winner.to_dict() if self.winner else None,
            "objective": self.objective,
            "text": self.text(),
        }


@dataclass
class TunePlan:
    """What :func:`advisor.tune` found: the measured winner, runners-up, what did not pay off, and what to try next.

    Attributes:
        model_name: The model's name.
        phase: ``inference`` or ``training``.
        objective: What the winner is chosen on (``energy``, ``latency``, ``carbon``).
        winner: The best variant that measured better with its quality verified within the gate (None: none did).
        runners_up: The other variants that pay off, best first (unverified ones say so in their reason).
        no_payoff: "Tried here: does not pay off": slower, no significant difference, inconclusive, outside the
            accuracy budget, failed or not applicable, each with its figures or reason.
        known_no_payoff: Techniques not re-measured because this machine's earlier runs on similar models say
            they do not pay off (the reason names the run).
        more_effort: Worth trying with more effort (retraining, data, new architecture, hardware): from the
            literature, as dicts (id, name, expected, why, group).
        artifact: The saved winner (``path``, ``format``, ``files``, ``snippet``) or why it was not saved.
        measured: Variants measured.
        elapsed_s: Wall time of the whole tune call. Units: s.
        budget_s: The measuring budget given. Units: s.
        run: The measurement run (:class:`advisor.measurement.MeasureRun`/``TrainingRun``, stages merged).
        run_ids: The store ids of every measurement run tune made.
        plan_id: The store id of this plan.
        store_path: The results store.
        knowledge_used: Observations from earlier runs on this machine that informed the ranking.
        recommendations: The :class:`advisor.recommendation.Recommendations` tune started from.
        notes: Caveats (busy machine, estimated energy, stacks not supported, ...).
        per_batch: Generation only: the pick at each batch size measured (per output token).
        crossover: Generation only: where each technique pays off ("pays off here only from batch 8",
            "1.6x faster at 38 % acceptance, energy x0.70") and the batching line, from ``generation_advice``.
        fastest_unverified: The best variant that pays off with its quality unverified, when it beats the winner
            (or there is none): shown as "fastest, quality unknown" beside the winner, never as "do this".
        recoveries: What each recovery of a failed int8 variant did (``recovered_from``, ``variant``, ``status``,
            ``reverted``, ``cost``: what keeping quality cost in speed), measured as variants of their own.
    """

    model_name: str
    phase: str
    objective: str
    winner: Candidate | None
    runners_up: list[Candidate]
    no_payoff: list[Candidate]
    known_no_payoff: list[dict[str, str]]
    more_effort: list[dict[str, Any]]
    artifact: dict[str, Any] | None
    measured: int
    elapsed_s: float
    budget_s: float
    run: Any = None
    run_ids: list[str] = field(default_factory=list)
    plan_id: str | None = None
    store_path: str | None = None
    knowledge_used: int = 0
    recommendations: Any = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)
    per_batch: list[BatchPick] = field(default_factory=list)
    crossover: list[str] = field(default_factory=list)
    fastest_unverified: Candidate | None = None
    recoveries: list[dict[str, Any]] = field(default_factory=list)

    kind = "tune"

    def headline(self) -> str:
        """``do this: <variant>: measured 5.0x faster (4.8-5.2), energy x0.20, <quality figure>``, or why nothing.

        Only a variant whose quality is verified is headlined as "do this"; a faster one whose quality is
        unknown is named beside it as "fastest, quality unknown" (alone when nothing verified pays off).
        """
        w, u = self.winner, self.fastest_unverified
        if self.per_batch:
            return "do this per batch size (generation, per output token): " + "; ".join(
                p.text() for p in self.per_batch
            )
        fast = ""
        if u is not None:
            fast = f"fastest, quality unknown: {u.variant}: measured {u.speed_text()}, {u.energy_text()}: "
            fast += "pass eval_fn or real inputs to check it"
        if w is not None:
            head = f"do this: {w.variant}: measured {w.speed_text()}, {w.energy_text()}, {w.quality_text()}"
            return f"{head}; {fast}" if fast else head
        if u is not None:
            return f"{fast}; no variant with verified quality pays off here"
        unproven = sorted(
            (
                c
                for c in self.no_payoff
                if c.verdict == "inconclusive"
                and c.quality_ok is not False
                and c.latency_ratio is not None
                and c.latency_ratio.median < 1
            ),
            key=lambda c: c.latency_ratio.median,
        )
        if unproven:
            u = unproven[0]
            return (
                f"not proven within the budget: {u.variant} looked faster ({u.speed_text()}), but the interval "
                "is too wide to say; measure again with a larger budget or on a quieter machine"
            )
        tried = len([c for c in self.no_payoff if c.latency_ratio is not None])
        return (
            f"nothing pays off here: of {self.measured} variants measured, none was better on {self.objective} "
            f"within the quality gate ({tried} compared); keep the model as it is, or see "
            "'worth trying with more effort'"
        )

    def lines(self) -> list[str]:
        """The plan as text lines (what the CLI prints)."""
        out = [self.headline(), ""]
        if self.per_batch:
            out += ["per batch size (generation, per output token):", *[f"  - {p.text()}" for p in self.per_batch]]
            out += ["where each technique pays off (measured here):", *[f"  - {x}" for x in self.crossover], ""]
        if self.winner is not None:
            out += [f"how to apply {self.winner.variant}:", *[f"  {h}" for h in self.winner.how_to_apply]]
            if self.artifact:
                where = self.artifact.get("path") or self.artifact.get("error")
                out.append(f"  saved: {where}")
            if self.winner.projection:
                out.append(f"  whole run: {_projection_text(self.winner.projection)}")
            out.append("")
        if self.runners_up:
            out += ["runners-up (measured here):", *[f"  - {c.summary()}" for c in self.runners_up], ""]
        if self.recoveries:
            out.append("recovering int8 variants that failed the quality gate (measured here):")
            out += [f"  - {recovery_text(r)}" for r in self.recoveries]
            out.append("")
        if self.no_payoff or self.known_no_payoff:
            out.append("tried here: does not pay off:")
            out += [f"  - {c.summary()}" for c in self.no_payoff]
            out += [f"  - {k['id']}: {k['reason']}" for k in self.known_no_payoff]
            out.append("")
        if self.more_effort:
            out.append("worth trying with more effort (from the literature, not measured here):")
            out += [
                f"  - {m['id']}: {m['expected']}" + (f" ({m['why']})" if m.get("why") else "") for m in self.more_effort
            ]
            out.append("")
        out.append(
            f"measured {self.measured} variants in {self.elapsed_s:.0f} s (budget {self.budget_s:g} s); "
            f"runs {', '.join(self.run_ids) or 'none'}; plan {self.plan_id}"
        )
        if self.knowledge_used:
            out.append(f"{self.knowledge_used} earlier measurement(s) on this machine informed the ranking")
        out += [f"note: {n}" for n in self.notes]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``kind: tune``)."""
        return {
            "kind": self.kind,
            "schema_version": RESULT_SCHEMA_VERSION,
            "model_name": self.model_name,
            "phase": self.phase,
            "objective": self.objective,
            "headline": self.headline(),
            "winner": self.winner.to_dict() if self.winner else None,
            "runners_up": [c.to_dict() for c in self.runners_up],
            "no_payoff": [c.to_dict() for c in self.no_payoff],
            "known_no_payoff": list(self.known_no_payoff),
            "more_effort": list(self.more_effort),
            "artifact": self.artifact,
            "measured": self.measured,
            "elapsed_s": self.elapsed_s,
            "budget_s": self.budget_s,
            "run_ids": list(self.run_ids),
            "plan_id": self.plan_id,
            "store": self.store_path,
            "knowledge_used": self.knowledge_used,
            "notes": list(self.notes),
            "per_batch": [p.to_dict() for p in self.per_batch],
            "crossover": list(self.crossover),
            "fastest_unverified": self.fastest_unverified.to_dict() if self.fastest_unverified else None,
            "recoveries": list(self.recoveries),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The plan as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def to_markdown(self) -> str:
        """The plan as Markdown (for reports and the demo's advice.md)."""
        body = "\n".join(self.lines()[2:])
        return f"## Tune: {self.model_name}\n\n**{self.headline()}**\n\n```\n{body}\n```\n"


def recovery_text(r: dict[str, Any]) -> str:
    """E.g. ``nncf-...@ignore-sensitive for nncf-...: verified; kept in fp32: 3 layers; 3.1x vs 4.0x faster``."""
    parts = [f"{r['variant']} for {r['recovered_from']}: {r['status']}"]
    if r.get("quality"):
        parts.append(r["quality"])
    if r.get("reverted"):
        parts.append(f"reverted: {r['reverted']}")
    if r.get("cost"):
        parts.append(r["cost"])
    return "; ".join(parts)


def _projection_text(p: dict[str, Any]) -> str:
    parts = []
    if p.get("time_s") is not None:
        parts.append(f"{p['time_s'] / 3600:.2f} h saved")
    if p.get("energy_j") is not None:
        parts.append(f"{p['energy_j'] / 3.6e6:.3f} kWh saved")
    if p.get("co2e_g") is not None:
        parts.append(f"{p['co2e_g']:.0f} gCO2e saved")
    return ", ".join(parts) or "no projection"
