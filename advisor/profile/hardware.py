"""This machine's hardware: the CPU features, GPUs and energy counters that decide what pays off.

:func:`detect_hardware` reads ``/proc/cpuinfo`` (Linux), NVML (``nvidia-ml-py``) and the RAPL
powercap files; nothing needs root. A :class:`HardwareProfile` can also be written to and read
from YAML, to plan for a machine you do not have (``green-advisor doctor --save hw.yaml``).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from advisor._errors import HardwareError
from advisor._pydantic import first_error

__all__ = ["EnergySource", "GpuInfo", "HardwareProfile", "detect_hardware", "hardware_facts", "hardware_fingerprint"]

POWERCAP = Path("/sys/class/powercap")

# cpuinfo flag -> our feature name
_X86_FLAGS = {
    "avx2": "avx2",
    "fma": "fma",
    "avx512f": "avx512",
    "avx512_vnni": "avx512-vnni",
    "avx_vnni": "avx-vnni",
    "avx512_bf16": "avx512-bf16",
    "amx_tile": "amx",
    "amx_int8": "amx-int8",
    "amx_bf16": "amx-bf16",
    "avx512_fp16": "avx512-fp16",
}
_ARM_FLAGS = {"asimd": "neon", "asimddp": "arm-dotprod", "sve": "sve", "bf16": "arm-bf16", "i8mm": "arm-i8mm"}


class GpuInfo(BaseModel):
    """One GPU, as NVML reports it.

    Attributes:
        name: Product name.
        memory_gib: Total memory. Units: GiB.
        compute_capability: CUDA compute capability, e.g. ``(8, 0)`` for A100.
        power_limit_w: Current power limit. Units: W.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    memory_gib: float
    compute_capability: tuple[int, int]
    power_limit_w: float | None = None

    @property
    def tensor_cores(self) -> bool:
        """Tensor cores exist from Volta (7.0) on."""
        return self.compute_capability >= (7, 0)

    @property
    def bf16(self) -> bool:
        """bfloat16 tensor-core math from Ampere (8.0) on."""
        return self.compute_capability >= (8, 0)

    @property
    def tf32(self) -> bool:
        """TF32 tensor-core math from Ampere (8.0) on."""
        return self.compute_capability >= (8, 0)

    @property
    def sparse_tensor_cores(self) -> bool:
        """2:4 structured-sparsity support from Ampere (8.0) on."""
        return self.compute_capability >= (8, 0)

    @property
    def fp8(self) -> bool:
        """FP8 tensor-core math from Ada (8.9) and Hopper (9.0) on."""
        return self.compute_capability >= (8, 9)


class EnergySource(BaseModel):
    """Whether an energy counter can be read here, and if not, why and how to fix it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    readable: bool
    detail: str
    fix: str | None = None


class HardwareProfile(BaseModel):
    """What the advisor needs to know about a machine.

    Attributes:
        cpu_model: CPU model name.
        arch: Machine architecture (``x86_64``, ``aarch64``, ...).
        physical_cores: Physical CPU cores.
        logical_cores: Hardware threads.
        cpu_features: Features that decide what pays off (``avx2``, ``avx512-vnni``, ``amx``, ...).
        memory_gib: Installed memory. Units: GiB.
        gpus: GPUs found through NVML.
        rapl: Whether CPU energy (RAPL) can be read.
        nvml: Whether GPU energy (NVML) can be read.
        source: ``detected`` or the file it was read from.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _renamed_fields(cls, data: Any) -> Any:
        """Hardware files written before 0.2 call ``memory_gib`` ``memory_gb`` (the value was GiB already)."""
        if isinstance(data, dict) and "memory_gb" in data and "memory_gib" not in data:
            data = {**data, "memory_gib": data["memory_gb"]}
            data.pop("memory_gb")
        return data

    cpu_model: str = "unknown"
    arch: str = "unknown"
    physical_cores: int = Field(1, ge=1)
    logical_cores: int = Field(1, ge=1)
    cpu_features: list[str] = Field(default_factory=list)
    memory_gib: float = Field(0.0, ge=0)
    gpus: list[GpuInfo] = Field(default_factory=list)
    rapl: EnergySource = EnergySource(readable=False, detail="not checked")
    nvml: EnergySource = EnergySource(readable=False, detail="not checked")
    source: str = "detected"

    # --- capabilities the advisor asks about ---------------------------------------------------
    @property
    def has_gpu(self) -> bool:
        """At least one GPU."""
        return bool(self.gpus)

    def has(self, feature: str) -> bool:
        """Whether the machine has a capability named in the catalog's ``requires_features``.

        Known names: ``gpu``, ``tensor-cores``, ``sparse-tensor-cores``, ``bf16``, ``fp16``, ``tf32``,
        ``fp8``, ``avx2``, ``avx512``, ``avx512-vnni`` (any int8 dot-product unit: AVX512-VNNI,
        AVX-VNNI, AMX or Arm dot-product), ``amx``, ``nvml-power-limit``. Unknown names are
        treated as not present.
        """
        f = set(self.cpu_features)
        gpu_any = lambda attr: any(getattr(g, attr) for g in self.gpus)  # noqa: E731
        checks = {
            "gpu": self.has_gpu,
            "tensor-cores": gpu_any("tensor_cores"),
            "sparse-tensor-cores": gpu_any("sparse_tensor_cores"),
            "tf32": gpu_any("tf32"),
            "fp8": gpu_any("fp8"),
            "bf16": gpu_any("bf16") or bool(f & {"avx512-bf16", "amx-bf16", "arm-bf16"}),
            "fp16": gpu_any("tensor_cores") or bool(f & {"avx512-fp16"}),
            "avx2": "avx2" in f,
            "avx512": "avx512" in f,
            "avx512-vnni": bool(f & {"avx512-vnni", "avx-vnni", "amx-int8", "arm-dotprod"}),
            "int8-dot-product": bool(f & {"avx512-vnni", "avx-vnni", "amx-int8", "arm-dotprod"}),
            "amx": "amx" in f,
            "nvml-power-limit": self.has_gpu and self.nvml.readable,
        }
        return bool(checks.get(feature, False))

    # --- files ------------------------------------------------------------------------------
    def to_yaml(self) -> str:
        """The profile as YAML, editable by hand."""
        data = self.model_dump(mode="json")
        return yaml.safe_dump(data, sort_keys=False)

    @classmethod
    def from_file(cls, path: str | Path) -> HardwareProfile:
        """Read a profile written by :meth:`to_yaml` (or by hand).

        Raises:
            HardwareError: naming the file, field, what was expected and what was found.
        """
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise HardwareError(f"{path}: cannot read hardware profile: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise HardwareError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise HardwareError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
        data["source"] = str(path)  # where this profile came from, whatever the file says
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            e = first_error(exc)
            raise HardwareError(
                f"{path}: field {e.field!r}: expected {e.expected}, got {e.got}. "
                "Write a valid file with `green-advisor doctor --save FILE` and edit it."
            ) from None

    def summary_lines(self) -> list[str]:
        """Human-readable lines for `green-advisor doctor`."""
        lines = [
            f"CPU: {self.cpu_model} ({self.arch}), {self.physical_cores} cores / {self.logical_cores} threads",
            f"CPU features: {', '.join(self.cpu_features) or 'none detected'}",
            f"int8 dot-product unit (VNNI/AMX/dotprod): {'yes' if self.has('avx512-vnni') else 'no'}",
            f"bf16 hardware support: {'yes' if self.has('bf16') else 'no'}",
            f"memory: {self.memory_gib:.1f} GiB",
        ]
        if self.gpus:
            for i, g in enumerate(self.gpus):
                cc = ".".join(map(str, g.compute_capability))
                feats = [n for n in ("tensor_cores", "bf16", "tf32", "fp8") if getattr(g, n)]
                lines.append(f"GPU {i}: {g.name}, {g.memory_gib:.0f} GiB, compute capability {cc} ({', '.join(feats)})")
        else:
            lines.append("GPU: none found")
        return lines


# --- detection ----------------------------------------------------------------------------------
def _cpuinfo() -> tuple[str, set[str]]:
    model, flags = platform.processor() or "unknown", set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and model in ("unknown", "", platform.machine()):
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return model, flags


def _cpu_features(flags: set[str]) -> list[str]:
    table = {**_X86_FLAGS, **_ARM_FLAGS}
    return sorted({name for flag, name in table.items() if flag in flags})


def check_rapl(root: Path = POWERCAP) -> EnergySource:
    """Whether RAPL energy counters can be read under ``root`` (``/sys/class/powercap``)."""
    zones = sorted(root.glob("intel-rapl:*")) if root.is_dir() else []
    zones = [z for z in zones if (z / "energy_uj").exists()]
    if not zones:
        return EnergySource(
            readable=False,
            detail=f"no RAPL zones under {root} (no powercap driver: a VM, a container without /sys, "
            "or a CPU without RAPL)",
            fix="On bare-metal Linux with an Intel or AMD CPU: `sudo modprobe intel_rapl_common` "
            "(AMD: kernel >= 5.8). In a VM or container RAPL is usually not exposed; energy is then estimated.",
        )
    unreadable = [z for z in zones if not os.access(z / "energy_uj", os.R_OK)]
    if unreadable:
        return EnergySource(
            readable=False,
            detail=f"{len(unreadable)} of {len(zones)} RAPL zones are not readable by this user "
            "(root-only since the 2020 PLATYPUS fix, CVE-2020-8694)",
            fix="sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj  "
            "(or a udev rule / sysfsutils entry to keep it after reboot)",
        )
    return EnergySource(readable=True, detail=f"{len(zones)} RAPL zone(s) readable: {', '.join(z.name for z in zones)}")


def _detect_gpus() -> tuple[list[GpuInfo], EnergySource]:
    try:
        import pynvml  # provided by the nvidia-ml-py distribution
    except ImportError:
        return [], EnergySource(readable=False, detail="nvidia-ml-py is not installed", fix="pip install nvidia-ml-py")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return [], EnergySource(
            readable=False,
            detail=f"NVML could not start ({exc}): no NVIDIA GPU or driver on this machine",
            fix="On a machine with an NVIDIA GPU install the NVIDIA driver (nvidia-smi must work).",
        )
    gpus = []
    counter = False
    try:
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(h)
            name = name.decode() if isinstance(name, bytes) else name
            mem = pynvml.nvmlDeviceGetMemoryInfo(h).total / 2**30
            cc = tuple(pynvml.nvmlDeviceGetCudaComputeCapability(h))
            try:
                limit = pynvml.nvmlDeviceGetPowerManagementLimit(h) / 1000.0
            except pynvml.NVMLError:
                limit = None
            try:
                pynvml.nvmlDeviceGetTotalEnergyConsumption(h)
                counter = True
            except pynvml.NVMLError:
                pass
            gpus.append(GpuInfo(name=name, memory_gib=round(mem, 1), compute_capability=cc, power_limit_w=limit))
    finally:
        pynvml.nvmlShutdown()
    if not gpus:
        return [], EnergySource(readable=False, detail="NVML started but reports no GPU")
    detail = "total-energy counter readable" if counter else "no energy counter (pre-Volta): power will be sampled"
    return gpus, EnergySource(readable=True, detail=detail)


def detect_hardware() -> HardwareProfile:
    """Detect this machine's CPU, memory, GPUs and energy counters. Never raises."""
    import psutil

    model, flags = _cpuinfo()
    gpus, nvml = _detect_gpus()
    return HardwareProfile(
        cpu_model=model or "unknown",
        arch=platform.machine() or "unknown",
        physical_cores=psutil.cpu_count(logical=False) or 1,
        logical_cores=psutil.cpu_count(logical=True) or 1,
        cpu_features=_cpu_features(flags),
        memory_gib=round(psutil.virtual_memory().total / 2**30, 1),
        gpus=gpus,
        rapl=check_rapl(),
        nvml=nvml,
        source="detected",
    )


def hardware_facts(hw: Any) -> dict[str, Any]:
    """The facts that identify a machine for knowledge reuse; :func:`hardware_fingerprint` hashes exactly these.

    A measured speed-up carries over to another machine when these agree, so they are the facts
    that change what pays off and by how much:

    - ``cpu_model`` and ``arch``: the micro-architecture;
    - ``cpu_features``: the ISA extensions that decide which kernels run (``avx2``, ``fma``,
      ``avx512*``, ``avx-vnni``, ``amx*``, and on Arm ``neon``, ``sve``, ``arm-bf16``, ...; the
      list :func:`detect_hardware` keeps, nothing else from ``/proc/cpuinfo``);
    - ``physical_cores`` and ``logical_cores``: how many threads the kernels get (a 2-vCPU and a
      16-vCPU slice of one CPU model are different machines);
    - ``gpus``: the GPU product names, one per GPU (so the count counts).

    Left out on purpose: installed memory (it does not change a technique's ratio unless the
    model swaps, and VMs of one type report it slightly differently), whether RAPL/NVML are
    readable (a permission, not a machine), the host name, and the torch/Python versions
    (software: every run records its own in ``meta["versions"]``; hashing them would make every
    ``pip install -U`` a new machine and throw away what was measured).

    Args:
        hw: A :class:`HardwareProfile`, its ``model_dump(mode="json")`` dict (as stored in a run's
            meta), or a dict of these facts (a campaign cell's node record).
    """
    get = hw.get if isinstance(hw, dict) else lambda k, d=None: getattr(hw, k, d)
    gpus = get("gpus", []) or []
    return {
        "cpu_model": get("cpu_model", "") or "",
        "arch": get("arch", "") or "",
        "cpu_features": sorted(get("cpu_features", []) or []),
        "physical_cores": int(get("physical_cores", 0) or 0),
        "logical_cores": int(get("logical_cores", 0) or 0),
        "gpus": sorted(g if isinstance(g, str) else g.get("name", "") if isinstance(g, dict) else g.name for g in gpus),
    }


def hardware_fingerprint(hw: Any) -> str:
    """A short hash (12 hex digits) of :func:`hardware_facts`: a machine's one name in runs, knowledge, campaigns.

    Args:
        hw: A :class:`HardwareProfile`, its ``model_dump(mode="json")`` dict, or a :func:`hardware_facts` dict.
    """
    facts = hardware_facts(hw)
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:12]
