"""The rules that decide whether a technique fits, and how the hardware and model change its effect.

Two kinds of rule, each returning plain-language reasons:

- **exclusions** (:func:`exclusion_reasons`): a technique that cannot help here is left out with
  every reason that applies (phase, model family, retraining, data, effort, accuracy budget,
  deployment target, missing hardware).
- **adjustments** (:func:`adjust`): the literature's range is moved for this machine and model,
  e.g. int8 without a dot-product unit keeps only part of its gain, dynamic quantization only
  touches Linear/LSTM/GRU layers, so its gain scales with their FLOP share (Amdahl's law).

The factors are documented in ``docs/advisor.md`` with their basis.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.catalog import schema as S
from advisor.profile.constraints import DATA_ORDER, EFFORT_ORDER, RETRAINING_ORDER, Constraints
from advisor.profile.hardware import HardwareProfile
from advisor.profile.model import ModelProfile
from advisor.recommendation.estimate import Estimate, accuracy_drops_pp

__all__ = ["INT8_CPU", "Finding", "adjust", "architecture_reason", "exclusion_reasons"]

# Techniques whose CPU gain rests on int8 dot-product instructions (VNNI, AMX, Arm dotprod).
INT8_CPU = frozenset(
    {
        "post-training-dynamic-quantization",
        "post-training-static-quantization",
        "quantization-aware-training",
        "int8-arithmetic",
        "q8bert",
        "llm-int8",
        "smoothquant",
    }
)
# Without VNNI/AMX, int8 keeps about this share of its literature gain (AVX2 int8 still beats
# fp32 through vpmaddubsw, but by far less: 1.1-2x against 2-4x with VNNI; see docs/advisor.md).
INT8_NO_VNNI_KEEP = 0.35
# Techniques whose work is limited to one layer kind: technique id -> layer kinds it speeds up.
LAYER_SCOPE: dict[str, tuple[str, ...]] = {
    "post-training-dynamic-quantization": ("dynamic",),
    "q8bert": ("linear",),
    "post-training-static-quantization": ("convolution", "linear"),
    "channels-last-memory-format": ("convolution",),
    "winograd-convolution": ("convolution",),
    "fft-convolution": ("convolution",),
    "im2col-gemm-lowering": ("convolution",),
    "structured-filter-pruning": ("convolution",),
    "channel-pruning": ("convolution",),
    "flash-attention": ("attention",),
    "efficient-attention": ("attention",),
    "sparse-attention": ("attention",),
    "linformer-low-rank-attention": ("attention",),
    "linear-attention-kernels": ("attention",),
    "performer-random-features": ("attention",),
    "reformer-lsh-attention": ("attention",),
    "longformer-sliding-window-attention": ("attention",),
    "multi-query-attention": ("attention",),
    "grouped-query-attention": ("attention",),
    "attention-head-pruning": ("attention",),
}
# Features without which the technique cannot work at all (any one of the listed suffices).
HARD_FEATURES = frozenset(
    {"gpu", "tensor-cores", "sparse-tensor-cores", "fp8", "tf32", "nvml-power-limit", "mx-formats"}
)
SLOWDOWN_FEATURES = frozenset({"bf16", "fp16"})  # emulated in software they slow down
RISK_ORDER = ("none", "low", "medium", "high")
TIME_OBJECTIVES = frozenset({"energy", "latency", "carbon"})


@dataclass(frozen=True)
class Finding:
    """One reason, tied to what it rests on.

    Attributes:
        kind: ``constraint``, ``profile``, ``hardware``, ``evidence`` or ``measurement`` (a run on this machine).
        text: The reason in plain words.
        ref: The field or evidence it points at (``hardware.cpu_features``, ``evidence[2]``, ...).
    """

    kind: str
    text: str
    ref: str


def _allowed_risk(max_drop_pp: float) -> str:
    if max_drop_pp <= 0:
        return "none"
    if max_drop_pp < 0.5:
        return "low"
    if max_drop_pp < 2.0:
        return "medium"
    return "high"


def _machine_hardware(hw: HardwareProfile, c: Constraints) -> set[str]:
    have = {"any", "cpu"}
    if hw.has_gpu:
        have.add("gpu")
    if c.target in ("edge", "mobile"):
        have.add("edge")
    if c.target == "server":
        have.add("datacenter")
    return have


def _family_fits(families: list[str], model: ModelProfile) -> bool:
    if "any" in families or model.family == "unknown":
        return True
    if model.family in families:
        return True
    return model.family == "llm" and "transformer" in families


def architecture_reason(t: S.Technique, model: ModelProfile) -> Finding | None:
    """Why the technique does not suit the model's architecture traits, or None when it does (or is unknown)."""
    archs = list(getattr(t.applicability, "architectures", None) or ["any"])
    mine = set(getattr(model, "architectures", None) or [])
    if "any" in archs or not mine or mine & set(archs):
        return None
    note = getattr(t.applicability, "architectures_note", None)
    why = f": {note.strip().rstrip('.')}" if note else ""
    return Finding(
        "profile",
        f"needs a {' or '.join(archs)} model{why}; yours is {model.trait_text()}",
        "applicability.architectures",
    )


def exclusion_reasons(t: S.Technique, model: ModelProfile, hw: HardwareProfile, c: Constraints) -> list[Finding]:
    """Every reason the technique does not fit; empty when it does."""
    out: list[Finding] = []
    arch = architecture_reason(t, model)
    if arch is not None:
        out.append(arch)
    out += _constraint_reasons(t, model, c)
    out += _hardware_reasons(t, hw, c)
    layers = _layer_scope_reason(t, model)
    return [*out, layers] if layers else out


def _constraint_reasons(t: S.Technique, model: ModelProfile, c: Constraints) -> list[Finding]:
    """What the user's constraints (phase, family, retraining, data, effort, risk, target) rule out."""
    app = t.applicability
    out: list[Finding] = []
    if not c.phases & set(app.phases):
        out.append(
            Finding("constraint", f"applies to {'/'.join(app.phases)}; you asked for {c.phase}", "constraints.phase")
        )
    if not _family_fits(list(app.model_families), model):
        out.append(
            Finding(
                "profile",
                f"made for {', '.join(app.model_families)} models; yours is a {model.family}",
                "profile.family",
            )
        )
    if RETRAINING_ORDER.index(app.needs_retraining) > RETRAINING_ORDER.index(c.retraining):
        out.append(
            Finding(
                "constraint",
                f"needs {app.needs_retraining} retraining; you allow {c.retraining}",
                "constraints.retraining",
            )
        )
    if DATA_ORDER[app.needs_data] > DATA_ORDER[c.data]:
        out.append(Finding("constraint", f"needs {app.needs_data} data; you have {c.data}", "constraints.data"))
    if EFFORT_ORDER.index(t.costs.effort) > EFFORT_ORDER.index(c.effort):
        out.append(
            Finding("constraint", f"{t.costs.effort} effort exceeds your {c.effort} budget", "constraints.effort")
        )
    allowed = _allowed_risk(c.max_accuracy_drop_pp)
    if RISK_ORDER.index(t.costs.accuracy_risk) > RISK_ORDER.index(allowed):
        out.append(
            Finding(
                "constraint",
                f"{t.costs.accuracy_risk} accuracy risk is too much for a maximum drop of "
                f"{c.max_accuracy_drop_pp:g} pp",
                "constraints.max_accuracy_drop_pp",
            )
        )
    if c.target not in app.targets:
        out.append(
            Finding("constraint", f"suits {', '.join(app.targets)} targets, not {c.target}", "constraints.target")
        )
    return out


def _hardware_reasons(t: S.Technique, hw: HardwareProfile, c: Constraints) -> list[Finding]:
    """What this machine lacks: the hardware class, a hard feature, or a feature whose emulation is slower."""
    app = t.applicability
    out: list[Finding] = []
    have = _machine_hardware(hw, c)
    if not have & set(app.hardware):
        out.append(
            Finding(
                "hardware",
                f"needs {' or '.join(app.hardware)} hardware, which this machine does not have "
                "(worth weighing when you choose hardware)",
                "hardware",
            )
        )
    feats = list(app.requires_features)
    hard = [f for f in feats if f in HARD_FEATURES]
    if hard and not any(hw.has(f) for f in feats):
        gpu_note = "no GPU was found" if not hw.has_gpu else "the GPU found lacks it"
        out.append(Finding("hardware", f"needs {' or '.join(feats)}; {gpu_note}", "hardware.gpus"))
    slow = [f for f in feats if f in SLOWDOWN_FEATURES]
    if slow and not any(hw.has(f) for f in feats) and c.objective in TIME_OBJECTIVES and not hard:
        out.append(
            Finding(
                "hardware",
                f"no {'/'.join(slow)} hardware support here: emulated, it runs slower than fp32, "
                f"so it cannot cut {c.objective}",
                "hardware.cpu_features",
            )
        )
    return out


def _layer_scope_reason(t: S.Technique, model: ModelProfile) -> Finding | None:
    """The model has none of the layers the technique acts on (e.g. no Linear/LSTM/GRU for dynamic int8)."""
    for kind in LAYER_SCOPE.get(t.id, ()):
        present = (
            model.has_layers(kind)
            if kind != "dynamic"
            else (None if model.dynamic_quantizable_share is None else model.dynamic_quantizable_share > 0)
        )
        if present is False:
            what = "Linear/LSTM/GRU" if kind == "dynamic" else kind
            return Finding("profile", f"not applicable: the model has no {what} layers", "profile.layer_counts")
    return None


def adjust(
    t: S.Technique, est: Estimate, model: ModelProfile, hw: HardwareProfile, c: Constraints
) -> tuple[Estimate, list[Finding]]:
    """Adjust the literature estimate for this hardware and model; return it with warnings."""
    warnings: list[Finding] = []
    on_cpu = not hw.has_gpu
    if t.id in INT8_CPU and on_cpu and c.objective in TIME_OBJECTIVES:
        if hw.has("int8-dot-product"):
            est = est.noted("int8 dot-product unit present (VNNI/AMX/dotprod): the literature's gains apply")
        else:
            est = est.scaled(
                INT8_NO_VNNI_KEEP,
                f"no int8 dot-product unit (VNNI/AMX): kept {INT8_NO_VNNI_KEEP:.0%} of the literature gain",
            )
            warnings.append(
                Finding(
                    "hardware",
                    "this CPU has no VNNI/AMX int8 instructions: int8 runs on AVX2 at best, and speed-ups "
                    "are small (often 1.1-2x, sometimes none); measure before relying on it",
                    "hardware.cpu_features",
                )
            )
    scope = LAYER_SCOPE.get(t.id)
    if scope and model.flop_share and c.objective in TIME_OBJECTIVES:
        if scope == ("dynamic",):
            share = model.dynamic_quantizable_share or 0.0
            what = "Linear/LSTM/GRU layers"
        else:
            share = sum(model.flop_share.get(k, 0.0) for k in scope)
            what = "/".join(scope) + " layers"
        if share < 0.999:
            est = est.scaled(share, f"only {share:.0%} of the forward FLOPs are in {what} (Amdahl)")
        if 0 < share < 0.3:
            warnings.append(
                Finding(
                    "profile",
                    f"only {share:.0%} of this model's FLOPs are in {what}: the gain is capped accordingly",
                    "profile.flop_share",
                )
            )
    drops = accuracy_drops_pp(t)
    worst = max((d for _, d in drops), default=None)
    if worst is not None and worst > c.max_accuracy_drop_pp:
        idx = next(i for i, d in drops if d == worst)
        warnings.append(
            Finding(
                "evidence",
                f"the literature reports accuracy losses up to {worst:g} points, above your "
                f"{c.max_accuracy_drop_pp:g} pp budget: check on your task",
                f"evidence[{idx}]",
            )
        )
    if est.ratio is not None and est.ratio > 1.0:
        warnings.append(
            Finding(
                "evidence", f"the cited evidence shows {c.objective} getting worse here", f"evidence[{est.basis[0]}]"
            )
        )
    return est, warnings
