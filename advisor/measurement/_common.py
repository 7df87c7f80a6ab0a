"""Small pieces every measurement entry point shares (measure, measure_training, batch_sweep)."""

from __future__ import annotations

import hashlib
import os
import platform
from collections.abc import Callable
from typing import Any

from advisor._errors import ConstraintError
from advisor._settings import merged

__all__ = [
    "check_args",
    "fingerprint",
    "meter_notes",
    "peak_rss_mib",
    "process_state",
    "run_history",
    "start_load",
    "versions",
]


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far. Units: MiB."""
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss / 1024 if os.uname().sysname != "Darwin" else rss / 2**20
    except (ImportError, AttributeError):  # pragma: no cover - non-POSIX
        import psutil

        return psutil.Process().memory_info().rss / 2**20


def fingerprint(model: Any) -> str:
    h = hashlib.sha256()
    h.update(type(model).__name__.encode())
    for name, p in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(p.shape)).encode())
        h.update(str(p.dtype).encode())
    return h.hexdigest()[:16]


def start_load() -> dict[str, Any]:
    """The 1-minute load average when the run starts: recorded, never a warning (it lags the present)."""
    try:
        return {"load_average_1m_at_start": round(os.getloadavg()[0], 2), "hardware_threads": os.cpu_count()}
    except (AttributeError, OSError):  # pragma: no cover - not on POSIX
        return {"load_average_1m_at_start": None, "hardware_threads": os.cpu_count()}


def versions() -> dict[str, str]:
    import torch

    from advisor._version import __version__

    return {"python": platform.python_version(), "torch": torch.__version__, "green-dl-advisor": __version__}


def process_state() -> Callable[[], None]:
    """A function that puts back the process-wide settings appliers change (threads, quantized engine)."""
    import torch

    threads, engine = torch.get_num_threads(), torch.backends.quantized.engine

    def enter() -> None:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        if torch.backends.quantized.engine != engine:
            torch.backends.quantized.engine = engine

    return enter


def check_args(budget_s: float, tdp_w: float | None) -> None:
    if isinstance(budget_s, bool) or not isinstance(budget_s, int | float) or not budget_s > 0:
        raise ConstraintError(f"budget_s: expected a positive number of seconds, got {budget_s!r}; e.g. budget_s=60")
    if tdp_w is not None and not tdp_w > 0:
        raise ConstraintError(
            f"tdp_w: expected the CPU's TDP in watts (> 0), got {tdp_w!r}; e.g. tdp_w=65, "
            "or leave it out for the default per-thread power"
        )


def meter_notes(meter: Any) -> tuple[str, ...]:
    """The caveats a meter attaches to its readings (one zero-length reading)."""
    try:
        return meter.end(meter.begin()).notes
    except Exception:  # noqa: BLE001 - a note is not worth failing a run for
        return ()


def run_history(store: Any, meta: dict[str, Any], model_fingerprint: str, run_id: str | None) -> Any:
    """This machine's earlier runs in ``store``, for the run-to-run spread (an empty history if unreadable)."""
    import sqlite3

    from advisor.measurement.engine import History, history_from_rows
    from advisor.profile import hardware_fingerprint

    if not meta.get("hardware"):
        return History()
    try:
        rows = store.recent_runs_with_results()
    except (sqlite3.Error, ValueError):  # a damaged store: this run's rounds alone, as before any history
        return History()
    return history_from_rows(
        rows,
        fingerprint=hardware_fingerprint(meta["hardware"]),
        meta=meta,
        model_fingerprint=model_fingerprint,
        machine_of=lambda m: hardware_fingerprint(m["hardware"]) if m.get("hardware") else None,
        exclude_run_id=run_id,
    )


def merged_with_engine(cls: type[Any], settings: Any, overrides: dict[str, Any], where: str) -> Any:
    """``merged(cls, settings, overrides)`` where ``settings`` may also be an ``EngineSettings`` (its ``engine``).

    Raises:
        ConstraintError: An unknown keyword, a wrong settings type, or an EngineSettings and ``engine=`` both.
    """
    from advisor.measurement.engine import EngineSettings

    if isinstance(settings, EngineSettings):
        if "engine" in overrides:
            raise ConstraintError(f"{where}: settings: an EngineSettings and engine= both given; pass one")
        overrides = {**overrides, "engine": settings}
        settings = None
    return merged(cls, settings, overrides, where)
