"""The result model of a generation measurement: per technique and batch size, prefill and decode figures.

Prefill is the generation of the first token (``generate(max_new_tokens=1)``: the prompt's forward
pass and one sampling step); decode is the rest (the full generation minus the prefill, per call),
the convention of optimum-benchmark. Every absolute figure is an :class:`Interval` (median over
rounds, 95 % order-statistic interval); every ratio against the baseline of the same batch size
is a :class:`Comparison` from the engine's pure ``derive`` on the same rounds. Each energy figure
carries its method (``measured-nvml``, ``measured-rapl``, ``estimated-...``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from advisor._version import RESULT_SCHEMA_VERSION as GENERATION_SCHEMA_VERSION
from advisor.measurement import Comparison, Interval

__all__ = ["GENERATION_SCHEMA_VERSION", "GenerationFigures", "GenerationResult", "GenerationRun"]

PHASES = ("prefill", "decode", "end_to_end")


def _pick(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


@dataclass(frozen=True)
class GenerationFigures:
    """Absolute figures of one variant at one batch size (each a median with its 95 % interval).

    Attributes:
        ttft_ms: Time to first token = prefill time of one call (the whole batch). Units: ms.
        prefill_j: Energy of one prefill call. Units: J.
        prefill_j_per_input_token: Prefill energy per prompt token (batch x prompt length). Units: J.
        decode_tokens_per_s: Decode throughput (batch x (new tokens - 1) / decode time). Units: tokens/s.
        decode_j_per_output_token: Decode energy per output token after the first. Units: J.
        j_per_output_token: Whole generation's energy per output token (prefill included). Units: J.
        request_latency_s: One ``generate`` call for the whole batch. Units: s.
        energy_method: How every energy figure here was obtained.
    """

    ttft_ms: Interval | None = None
    prefill_j: Interval | None = None
    prefill_j_per_input_token: Interval | None = None
    decode_tokens_per_s: Interval | None = None
    decode_j_per_output_token: Interval | None = None
    j_per_output_token: Interval | None = None
    request_latency_s: Interval | None = None
    energy_method: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> GenerationFigures | None:
        """The figures from :meth:`to_dict`."""
        if not d:
            return None
        kw = _pick(cls, d)
        for k in list(kw):
            if k != "energy_method":
                kw[k] = Interval.from_dict(kw[k])
        return cls(**kw)


@dataclass
class GenerationResult:
    """One variant (the baseline included) at one batch size.

    Attributes:
        technique: Variant id (``baseline``, ``prompt-lookup-decoding``, ``a+b@setting``).
        batch_size: Prompts per ``generate`` call.
        status: ``ok``, ``not-applicable``, ``failed``, ``skipped-budget`` or ``interrupted``.
        reason: Why it is not ``ok``.
        figures: Absolute figures with intervals.
        comparison: Phase (``prefill``, ``decode``, ``end_to_end``) -> ratio against the baseline of the same
            batch size, per token (latency ratio and energy ratio with intervals and verdicts).
        acceptance: For speculative variants: ``acceptance_rate`` (accepted / proposed candidate tokens),
            ``tokens_per_forward`` (tokens per target-model forward pass), ``proposed``, ``accepted``.
        quality: ``greedy_agreement`` (share of identical generated tokens vs the baseline), ``perplexity``
            and ``perplexity_ratio`` (real weights), or ``logit_*`` fidelity (random weights), with ``note``.
        memory: ``weights_mib``, ``kv_cache_mib``, ``peak_rss_mib`` (CPU) or ``peak_cuda_mib`` (GPU).
        settings: How the variant was built.
        rounds: Paired rounds the figures rest on.
        tokens: ``input_tokens`` per prompt and ``new_tokens`` per prompt.
    """

    technique: str
    batch_size: int
    status: str = "ok"
    reason: str | None = None
    figures: GenerationFigures | None = None
    comparison: dict[str, Comparison] = field(default_factory=dict)
    acceptance: dict[str, Any] | None = None
    quality: dict[str, Any] | None = None
    memory: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    rounds: int = 0
    tokens: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["figures"] = self.figures.to_dict() if self.figures else None
        d["comparison"] = {k: c.to_dict() for k, c in self.comparison.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GenerationResult:
        """The result from :meth:`to_dict`."""
        kw = _pick(cls, d)
        kw["figures"] = GenerationFigures.from_dict(d.get("figures"))
        kw["comparison"] = {k: Comparison.from_dict(c) for k, c in (d.get("comparison") or {}).items()}
        return cls(**kw)

    def row(self) -> dict[str, Any]:
        """One flat row (medians and interval ends) for tables."""
        f = self.figures or GenerationFigures()
        row: dict[str, Any] = {"technique": self.technique, "batch_size": self.batch_size, "status": self.status}
        for name in (
            "ttft_ms",
            "prefill_j_per_input_token",
            "decode_tokens_per_s",
            "decode_j_per_output_token",
            "j_per_output_token",
            "request_latency_s",
        ):
            iv = getattr(f, name)
            row[name] = iv.median if iv else None
            row[f"{name}_low"] = iv.low if iv else None
            row[f"{name}_high"] = iv.high if iv else None
        row["energy_method"] = f.energy_method
        e2e = self.comparison.get("end_to_end")
        row["speedup"] = e2e.speedup.median if e2e and e2e.speedup else None
        row["energy_ratio"] = e2e.energy_ratio.median if e2e and e2e.energy_ratio else None
        row["verdict"] = e2e.verdict if e2e else None
        row["energy_verdict"] = e2e.energy_verdict if e2e else None
        row["acceptance_rate"] = (self.acceptance or {}).get("acceptance_rate")
        row["greedy_agreement"] = (self.quality or {}).get("greedy_agreement")
        row["kv_cache_mib"] = self.memory.get("kv_cache_mib")
        row["peak_mib"] = self.memory.get("peak_cuda_mib") or self.memory.get("peak_rss_mib")
        row["reason"] = self.reason
        return row


@dataclass
class GenerationRun:
    """Everything one :func:`advisor.measure_generation` call measured.

    Attributes:
        run_id: Unique id.
        status: ``finished`` or ``interrupted``.
        results: Every (variant, batch size), baseline included.
        meta: Hardware, versions, meters, window length, prompts, weights (real or random), reporting text.
    """

    run_id: str
    status: str
    results: list[GenerationResult] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    kind = "generation"

    @property
    def batch_sizes(self) -> list[int]:
        """The batch sizes measured, ascending."""
        return sorted({r.batch_size for r in self.results})

    def get(self, technique: str, batch_size: int) -> GenerationResult | None:
        """The result of one variant at one batch size, or None."""
        return next((r for r in self.results if r.technique == technique and r.batch_size == batch_size), None)

    def table(self) -> Any:
        """A pandas DataFrame, one row per (variant, batch size)."""
        import pandas as pd

        return pd.DataFrame([r.row() for r in self.results])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``schema_version`` and ``kind``."""
        return {
            "schema_version": GENERATION_SCHEMA_VERSION,
            "kind": "generation",
            "run_id": self.run_id,
            "status": self.status,
            "meta": self.meta,
            "results": [r.to_dict() for r in self.results],
        }

    def to_json(self) -> str:
        """The dict as JSON text."""
        return json.dumps(self.to_dict(), indent=2, default=str)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GenerationRun:
        """The run from :meth:`to_dict`."""
        return cls(
            d["run_id"],
            d.get("status", "finished"),
            [GenerationResult.from_dict(r) for r in d["results"]],
            d.get("meta") or {},
        )
