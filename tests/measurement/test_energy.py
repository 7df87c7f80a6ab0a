"""Energy meters with fakes: NVML (counter and sampled power), RAPL (with wrap-around), the estimate."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from advisor.measurement.energy import EstimateMeter, MeterUnavailable, get_meters
from advisor.measurement.energy.nvml import NvmlMeter
from advisor.measurement.energy.rapl import RaplMeter, find_zones
from tests.measurement.fake_nvml import FakeNvml


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(i * i for i in range(1000))


def test_nvml_counter_reads_energy_at_window_ends() -> None:
    nvml = FakeNvml([{"power_mw": 100_000}, {"power_mw": 50_000}])
    m = NvmlMeter(nvml=nvml)
    tok = m.begin()
    time.sleep(0.2)
    r = m.end(tok)
    m.close()
    assert r.method == "measured-nvml" and r.measured
    assert r.components_j["gpu-0"] == pytest.approx(100 * r.duration_s, rel=0.1)
    assert r.components_j["gpu-1"] == pytest.approx(50 * r.duration_s, rel=0.1)
    assert nvml.shutdown_calls == 1


def test_nvml_without_counter_samples_power_and_is_never_zero() -> None:
    m = NvmlMeter(nvml=FakeNvml([{"power_mw": 200_000, "counter": False}]), sample_s=0.02)
    tok = m.begin()
    time.sleep(0.15)
    r = m.end(tok)
    short = m.end(m.begin())  # shorter than one sample
    m.close()
    assert r.energy_j == pytest.approx(200 * r.duration_s, rel=0.15)
    assert any("sampled" in n for n in r.notes)
    assert short.energy_j > 0


def test_nvml_unavailable_says_why() -> None:
    with pytest.raises(MeterUnavailable, match="Driver Not Loaded"):
        NvmlMeter(nvml=FakeNvml([], fail_init=True))
    with pytest.raises(MeterUnavailable, match="no GPU"):
        NvmlMeter(nvml=FakeNvml([]))


def make_powercap(root: Path, energy_uj: int = 0, max_uj: int = 1_000_000, dram: bool = True) -> Path:
    pkg = root / "intel-rapl:0"
    pkg.mkdir(parents=True)
    (pkg / "name").write_text("package-0\n")
    (pkg / "energy_uj").write_text(f"{energy_uj}\n")
    (pkg / "max_energy_range_uj").write_text(f"{max_uj}\n")
    core = pkg / "intel-rapl:0:0"
    core.mkdir()
    (core / "name").write_text("core\n")
    (core / "energy_uj").write_text("5\n")
    (core / "max_energy_range_uj").write_text(f"{max_uj}\n")
    if dram:
        d = pkg / "intel-rapl:0:1"
        d.mkdir()
        (d / "name").write_text("dram\n")
        (d / "energy_uj").write_text("0\n")
        (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return root


def set_uj(root: Path, zone: str, value: int) -> None:
    (root / zone / "energy_uj").write_text(f"{value}\n")


def test_rapl_zones_skip_core_and_keep_dram(tmp_path: Path) -> None:
    zones = find_zones(make_powercap(tmp_path))
    assert [z.name for z in zones] == ["package-0", "dram-0"]


def test_rapl_handles_wrap_around(tmp_path: Path) -> None:
    root = make_powercap(tmp_path, energy_uj=900_000, max_uj=1_000_000)
    m = RaplMeter(root, poll_s=3600)  # polled by hand below
    tok = m.begin()
    set_uj(root, "intel-rapl:0", 950_000)
    m.poll()
    set_uj(root, "intel-rapl:0", 100_000)  # wrapped once: +(1_000_000 - 950_000) + 100_000
    m.poll()
    set_uj(root, "intel-rapl:0", 900_000)
    m.poll()
    set_uj(root, "intel-rapl:0", 50_000)  # wrapped again: +(1_000_000 - 900_000) + 50_000
    set_uj(root, "intel-rapl:0/intel-rapl:0:1", 2_000_000 // 4)
    r = m.end(tok)
    m.close()
    assert m.wraps["package-0"] == 2
    assert r.components_j["package-0"] == pytest.approx((50_000 + 150_000 + 800_000 + 150_000) / 1e6)
    assert r.components_j["dram-0"] == pytest.approx(0.5)
    assert r.method == "measured-rapl"


def test_rapl_missing_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(MeterUnavailable, match="no RAPL zones"):
        find_zones(tmp_path / "none")
    root = make_powercap(tmp_path / "pc", dram=False)
    (root / "intel-rapl:0" / "energy_uj").write_text("not a number\n")
    with pytest.raises(MeterUnavailable, match="cannot be read"):
        find_zones(root)


def busy_cpu(cpu_seconds: float) -> float:
    """Spin until this process has used ``cpu_seconds`` of CPU time; return the CPU time used.

    Counting CPU time (not wall time) keeps the test right on a loaded CI machine.
    """
    start = time.process_time()
    while time.process_time() - start < cpu_seconds:
        sum(i * i for i in range(1000))
    return time.process_time() - start


def test_estimate_is_labelled_and_scales_with_cpu_time() -> None:
    m = EstimateMeter(tdp_w=40.0, threads=4)
    tok = m.begin()
    used_s = busy_cpu(0.3)
    r = m.end(tok)
    assert r.method == "estimated-tdp" and not r.measured
    # 40 W / 4 threads = 10 W per busy thread; other threads of pytest may add a little CPU time.
    assert r.components_j["cpu"] == pytest.approx(10.0 * used_s, rel=0.2)
    default = EstimateMeter()
    assert default.method == "estimated-default-power"
    with pytest.raises(ValueError, match="positive"):
        EstimateMeter(tdp_w=0)


def test_factory_prefers_counters_and_never_raises(tmp_path: Path) -> None:
    root = make_powercap(tmp_path)
    meters, why = get_meters(nvml=FakeNvml([{"power_mw": 1000}]), powercap=root)
    assert [m.method for m in meters] == ["measured-nvml", "measured-rapl"]
    assert why == {}
    for m in meters:
        m.close()
    meters, why = get_meters(nvml=FakeNvml([], fail_init=True), powercap=tmp_path / "absent")
    assert [m.method for m in meters] == ["estimated-default-power"]
    assert set(why) == {"nvml", "rapl"}
