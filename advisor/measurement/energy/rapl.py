"""CPU package and DRAM energy from Linux RAPL powercap files (``/sys/class/powercap/intel-rapl:*``).

The ``energy_uj`` counters wrap at ``max_energy_range_uj``. A background thread reads them more
often than they can wrap (every ``poll_s`` seconds) and accumulates the deltas, so a window of any
length is exact; a single read-pair would miss a second wrap. Sub-zones named ``dram`` are kept
as their own component; ``core``/``uncore`` sub-zones are inside the package and are not added.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from advisor.measurement.energy.base import EnergyMeter, EnergyReading, MeterUnavailable, Ticker

__all__ = ["RaplMeter", "RaplZone", "find_zones"]

POWERCAP = Path("/sys/class/powercap")
FIX = (
    "make the counters readable: `sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj "
    "/sys/class/powercap/intel-rapl:*:*/energy_uj` (root-only since CVE-2020-8694), or run as root"
)


@dataclass(frozen=True)
class RaplZone:
    """One RAPL domain: its name (``package-0``, ``dram-0``) and counter files."""

    name: str
    energy_file: Path
    max_range_uj: int


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


def find_zones(root: Path = POWERCAP) -> list[RaplZone]:
    """The package and DRAM zones under ``root``.

    Raises:
        MeterUnavailable: no zones, or they cannot be read (with the fix).
    """
    packages = sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1) if root.is_dir() else []
    if not packages:
        raise MeterUnavailable(
            f"no RAPL zones under {root}: the powercap driver is absent (a VM or container, or a CPU without RAPL); "
            "load it on bare-metal Linux with `sudo modprobe intel_rapl_common`"
        )
    zones = []
    for pkg in packages:
        for z in [pkg, *sorted(pkg.glob(f"{pkg.name}:*"))]:
            try:
                name = (z / "name").read_text().strip()
            except OSError:
                name = z.name
            if z is not pkg and not name.startswith("dram"):
                continue  # core/uncore are inside the package
            label = name if name[-1].isdigit() else f"{name}-{pkg.name.split(':')[1]}"
            try:
                _read_int(z / "energy_uj")
                max_range = _read_int(z / "max_energy_range_uj")
            except PermissionError:
                raise MeterUnavailable(f"{z / 'energy_uj'} is not readable by this user; {FIX}") from None
            except (OSError, ValueError) as exc:
                raise MeterUnavailable(f"{z / 'energy_uj'} cannot be read: {exc}") from None
            zones.append(RaplZone(label, z / "energy_uj", max_range))
    return zones


class RaplMeter(EnergyMeter):
    """Energy of the CPU packages (and DRAM where exposed) from RAPL counters.

    Args:
        root: The powercap directory (a fake tree in tests).
        poll_s: How often the background thread reads the counters. Must be shorter than the
            fastest wrap time (max_energy_range_uj / peak power: minutes on real machines).
    """

    method = "measured-rapl"
    min_block_s = 0.02  # the counters update about every millisecond

    def __init__(self, root: Path = POWERCAP, poll_s: float = 1.0) -> None:
        self.zones = find_zones(root)
        self._lock = threading.Lock()
        self._last = {z.name: _read_int(z.energy_file) for z in self.zones}
        self._total_uj = dict.fromkeys(self._last, 0)
        self.wraps = dict.fromkeys(self._last, 0)
        self._ticker = Ticker(self.poll, poll_s, "rapl-poller")

    def poll(self) -> None:
        """Read every counter once and accumulate the deltas, handling wrap-around."""
        with self._lock:
            for z in self.zones:
                now = _read_int(z.energy_file)
                last = self._last[z.name]
                if now < last:  # wrapped past max_energy_range_uj
                    self._total_uj[z.name] += z.max_range_uj - last + now
                    self.wraps[z.name] += 1
                else:
                    self._total_uj[z.name] += now - last
                self._last[z.name] = now

    def _snapshot(self) -> dict[str, int]:
        self.poll()
        with self._lock:
            return dict(self._total_uj)

    def _delta(self, start: dict[str, int], end: dict[str, int], duration_s: float) -> EnergyReading:
        comps = {k: (end[k] - start[k]) / 1e6 for k in end}
        notes = ("RAPL counts the whole CPU package (all processes), not this process alone",)
        return EnergyReading(sum(comps.values()), duration_s, self.method, comps, notes)

    def close(self) -> None:
        """Stop the polling thread."""
        self._ticker.stop()

    def describe(self) -> str:
        """What is read."""
        return "RAPL: " + ", ".join(z.name for z in self.zones)
