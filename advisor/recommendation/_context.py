"""Evidence in context: the hardware class of this machine, and how much evidence from another class counts.

Each evidence item in the catalog names the class of hardware it was obtained on
(``evidence[].hardware_class``). A speed-up measured on a datacenter GPU says little about a server
CPU: such items are discounted (their log-ratio is shrunk toward "no effect") and the reason says so.
Only items whose ``basis`` is ``saving`` feed an expected saving; ``more-hardware`` (a speed-up bought
with more devices) and ``estimation-error`` (how far an estimator is off) are context.

The weights are documented in ``docs/advisor.md``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CLASS_LABEL", "evidence_weight", "hardware_class_of", "is_saving"]

CLASS_LABEL = {
    "datacenter-gpu": "a datacenter GPU",
    "consumer-gpu": "a consumer GPU",
    "server-cpu": "a server CPU",
    "desktop-cpu": "a desktop CPU",
    "mobile-edge": "a mobile/edge device",
    "accelerator": "an accelerator (TPU, FPGA, ASIC)",
    "simulated": "a simulation",
}
_GPU = frozenset({"datacenter-gpu", "consumer-gpu"})
_CPU = frozenset({"server-cpu", "desktop-cpu"})
# Same class 1.0; a sibling class (another CPU, another GPU) 0.8; CPU <-> GPU 0.35; anything against an
# accelerator or an edge device 0.5; a simulation 0.3; an item that does not say 0.7.
SIBLING_WEIGHT = 0.8
CPU_GPU_WEIGHT = 0.35
OTHER_WEIGHT = 0.5
SIMULATED_WEIGHT = 0.3
UNKNOWN_WEIGHT = 0.7
DATACENTER_GPUS = (
    "a100",
    "h100",
    "h200",
    "h800",
    "a800",
    "v100",
    "p100",
    "a10",
    "a30",
    "a40",
    "l4",
    "l40",
    "t4",
    "b100",
    "b200",
    "gh200",
    "mi100",
    "mi210",
    "mi250",
    "mi300",
)
SERVER_CPU_WORDS = ("xeon", "epyc", "graviton", "ampere", "neoverse", "opteron")


def hardware_class_of(hw: Any) -> str:
    """The evidence hardware class this machine belongs to (``server-cpu`` for this 2-core EPYC VM, ...)."""
    gpus = list(getattr(hw, "gpus", []) or [])
    if gpus:
        name = " ".join(str(getattr(g, "name", "")).lower() for g in gpus)
        return "datacenter-gpu" if any(w in name for w in DATACENTER_GPUS) else "consumer-gpu"
    model = str(getattr(hw, "cpu_model", "")).lower()
    arch = str(getattr(hw, "arch", "")).lower()
    if arch in ("aarch64", "arm64", "armv7l") and getattr(hw, "logical_cores", 0) <= 8 and "neoverse" not in model:
        return "mobile-edge"
    if any(w in model for w in SERVER_CPU_WORDS) or getattr(hw, "logical_cores", 0) >= 32:
        return "server-cpu"
    return "desktop-cpu"


def evidence_weight(evidence_class: str | None, machine_class: str | None) -> float:
    """How much an evidence item from ``evidence_class`` counts on a ``machine_class`` machine (0-1]."""
    if machine_class is None:
        return 1.0
    if evidence_class is None:
        return UNKNOWN_WEIGHT
    if evidence_class == machine_class:
        return 1.0
    if evidence_class == "simulated":
        return SIMULATED_WEIGHT
    pair = {evidence_class, machine_class}
    if pair <= _CPU or pair <= _GPU:
        return SIBLING_WEIGHT
    if pair <= _CPU | _GPU:
        return CPU_GPU_WEIGHT
    return OTHER_WEIGHT


def is_saving(ev: Any) -> bool:
    """Whether the evidence item may feed an expected saving (``basis: saving``; items without a basis count)."""
    return getattr(ev, "basis", None) in (None, "saving")
