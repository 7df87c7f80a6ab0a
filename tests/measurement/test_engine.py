"""The engine with fake variants: shuffled paired rounds, groups with the baseline, budget, Ctrl-C, sync, lock, load."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from advisor._errors import NotApplicable
from advisor.measurement import EngineSettings, Variant, VariantSpec, load_summary, run_engine
from advisor.measurement.engine._rounds import LoadSampler, device_sync, plan_groups


def spin(seconds: float):
    def call() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    return call


FAST = EngineSettings(block_s=0.002, warmup=1, min_rounds=6, max_rounds=12, target_rel=0.0)


def test_rounds_shuffle_the_order_with_a_seed_and_pair_every_variant(tmp_path: Path) -> None:
    specs = [VariantSpec(n, lambda n=n: Variant(n, spin(0.0002))) for n in ("a", "b", "c")]
    out = run_engine(Variant("baseline", spin(0.0002)), specs, settings=FAST, budget_s=30, lock_path=tmp_path / "l")
    assert out.status == "finished" and len(out.rounds) == 12 and out.stopped_by == ["max_rounds"]
    assert all(set(r.blocks) == {"baseline", "a", "b", "c"} for r in out.rounds)
    orders = [tuple(r.order) for r in out.rounds]
    assert len(set(orders)) > 1  # shuffled per round
    again = run_engine(Variant("baseline", spin(0.0002)), specs, settings=FAST, budget_s=30, lock_path=tmp_path / "l")
    assert [tuple(r.order) for r in again.rounds] == orders  # the same seed gives the same orders
    assert all(b.calls >= 1 and b.wall_s > 0 and b.cpu_s is not None for r in out.rounds for b in r.blocks.values())
    assert all("other_cpu_frac" in r.load and "steal_frac" in r.load for r in out.rounds)
    assert out.setups["a"][0] == "ok" and out.lock_waited_s >= 0


def test_blocks_last_at_least_the_block_time(tmp_path: Path) -> None:
    s = EngineSettings(block_s=0.02, warmup=2, min_rounds=2, max_rounds=3)
    out = run_engine(Variant("baseline", spin(0.001)), [], settings=s, budget_s=10, lock_path=tmp_path / "l")
    assert all(b.calls >= 10 and b.wall_s >= 0.015 for r in out.rounds for b in r.blocks.values())


def test_groups_each_contain_the_baseline(tmp_path: Path) -> None:
    torn: list[str] = []

    def spec(n: str) -> VariantSpec:
        return VariantSpec(n, lambda: Variant(n, spin(0.0001), teardown=lambda: torn.append(n)), size_bytes=10)

    s = EngineSettings(block_s=0.001, warmup=1, min_rounds=2, max_rounds=2, max_variants_in_memory=2)
    out = run_engine(Variant("baseline", spin(0.0001)), [spec(n) for n in "abcde"], settings=s, budget_s=30,
                     lock_path=tmp_path / "l")  # fmt: skip
    assert out.groups == [["baseline", "a", "b"], ["baseline", "c", "d"], ["baseline", "e"]]
    assert [set(r.blocks) for r in out.rounds[::2]] == [{"baseline", "a", "b"}, {"baseline", "c", "d"},
                                                       {"baseline", "e"}]  # fmt: skip
    assert torn == ["b", "a", "d", "c", "e"]  # each group is torn down before the next is set up


def test_plan_groups_by_memory() -> None:
    assert plan_groups(["a", "b", "c"], [40, 40, 40], available_bytes=200) == [["a", "b"], ["c"]]
    assert plan_groups(["a", "b"], [500, 10], available_bytes=200) == [["a"], ["b"]]  # too big still gets a group
    assert plan_groups(["a", "b", "c"], [1, 1, 1], available_bytes=10**9) == [["a", "b", "c"]]


def test_set_up_failures_are_recorded_and_the_rest_is_measured(tmp_path: Path) -> None:
    def never() -> Variant:
        raise NotApplicable("needs a GPU")

    def crash() -> Variant:
        raise ValueError("unsupported operator")

    torn = []
    broken = VariantSpec("broken", lambda: Variant("broken", spin(0), teardown=lambda: torn.append(1), failed="nan"))
    specs = [VariantSpec("never", never), VariantSpec("crash", crash), broken,
             VariantSpec("ok", lambda: Variant("ok", spin(0.0001)))]  # fmt: skip
    out = run_engine(Variant("baseline", spin(0.0001)), specs, settings=FAST, budget_s=30, lock_path=tmp_path / "l")
    assert out.setups["never"] == ("not-applicable", "needs a GPU", {})
    assert out.setups["crash"][0] == "failed" and "unsupported operator" in out.setups["crash"][1]
    assert out.setups["broken"][:2] == ("failed", "nan") and torn == [1]
    assert set(out.rounds[0].blocks) == {"baseline", "ok"}


def test_budget_skips_set_ups_and_ends_rounds(tmp_path: Path) -> None:
    slow_setup = VariantSpec("slow", lambda: (time.sleep(0.2), Variant("slow", spin(0.001)))[1])
    specs = [slow_setup, VariantSpec("late", lambda: Variant("late", spin(0.001)))]
    s = EngineSettings(block_s=0.005, warmup=1, min_rounds=6, max_rounds=10_000)
    t0 = time.perf_counter()
    out = run_engine(Variant("baseline", spin(0.001)), specs, settings=s, budget_s=0.1, lock_path=tmp_path / "l")
    assert out.setups["late"][0] == "skipped-budget" and out.setups["slow"][0] == "ok"
    assert out.stopped_by == ["budget"] and len(out.rounds) >= 1
    assert time.perf_counter() - t0 < 5


def test_ctrl_c_keeps_the_finished_rounds(tmp_path: Path) -> None:
    calls = {"n": 0}

    def flaky() -> None:
        calls["n"] += 1
        if calls["n"] > 40:
            raise KeyboardInterrupt

    s = EngineSettings(block_s=0.0, warmup=1, min_rounds=100, max_rounds=1000)
    specs = [VariantSpec("v", lambda: Variant("v", flaky)), VariantSpec("w", lambda: Variant("w", spin(0)))]
    out = run_engine(Variant("baseline", spin(0)), specs, settings=s, budget_s=30, lock_path=tmp_path / "l")
    assert out.status == "interrupted" and out.stopped_by[-1] == "interrupted"
    assert 10 <= len(out.rounds) < 40 and all("v" in r.blocks for r in out.rounds)


def test_sync_is_called_after_every_timed_call(tmp_path: Path) -> None:
    """A CUDA model is synchronised after each call: a fake sync counts, and must follow each call."""
    log: list[str] = []
    s = EngineSettings(block_s=0.0, warmup=2, min_rounds=3, max_rounds=3)
    v = VariantSpec("v", lambda: Variant("v", lambda: log.append("call")))
    out = run_engine(Variant("baseline", lambda: log.append("call")), [v], settings=s, budget_s=10,
                     sync=lambda: log.append("sync"), lock_path=tmp_path / "l")  # fmt: skip
    assert log.count("call") == log.count("sync") and log.count("call") > 0
    assert all(a == "call" and b == "sync" for a, b in zip(log[::2], log[1::2], strict=True))
    assert sum(b.calls for r in out.rounds for b in r.blocks.values()) + 2 * 2 == log.count("call")


def test_device_sync_picks_cuda_synchronize_for_cuda_models(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    class Dev:
        type = "cuda"

    class P:
        device = Dev()

    class FakeCudaModel:
        def parameters(self):
            return iter([P()])

    called = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: called.append(a))
    sync = device_sync(FakeCudaModel(), ())
    assert sync is torch.cuda.synchronize
    sync()
    assert called == [()]
    assert device_sync(torch.nn.Linear(2, 2), (torch.zeros(1, 2),)) is None
    assert device_sync(None, (P(),)) is torch.cuda.synchronize


def test_measure_synchronises_a_cuda_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """measure() hands the CUDA sync to the engine: a model claiming CUDA gets torch.cuda.synchronize per call."""
    import torch

    from advisor.measurement.engine import _rounds as _engine
    from advisor.measurement.run import measure

    seen = {}
    real = _engine.run_engine

    def spy(*a, **kw):
        seen["sync"] = kw.get("sync")
        return real(*a, **kw)

    monkeypatch.setattr("advisor.measurement.run.run_engine", spy)
    monkeypatch.setattr("advisor.measurement.run.device_sync", lambda m, i: torch.cuda.synchronize)
    counter = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: counter.append(1))
    model = torch.nn.Linear(8, 2)
    run = measure(model, torch.randn(4, 8), ["inference-mode-and-no-grad"], budget_s=1, store=tmp_path / "s.sqlite",
                  progress=False)  # fmt: skip
    assert seen["sync"] is torch.cuda.synchronize
    assert len(counter) >= sum(b.calls for r in run.rounds for b in r.blocks.values())


def test_machine_lock_is_held_during_rounds_and_its_wait_recorded(tmp_path: Path) -> None:
    import filelock

    lock = tmp_path / "l"
    held = []

    def probe() -> None:
        try:
            filelock.FileLock(str(lock)).acquire(timeout=0)
            held.append(False)
        except filelock.Timeout:
            held.append(True)

    s = EngineSettings(block_s=0.0, warmup=1, min_rounds=2, max_rounds=2)
    out = run_engine(Variant("baseline", probe), [], settings=s, budget_s=10, lock_path=lock)
    assert held and all(held[1:])  # the warm-up call runs unlocked; every timed call under the lock
    assert out.lock_waited_s >= 0


def test_load_sampler_and_summary() -> None:
    sampler = LoadSampler()
    a = sampler.sample()
    spin(0.05)()
    d = sampler.delta(a, sampler.sample())
    assert 0 <= d["other_cpu_frac"] <= 1 and d["wall_s"] >= 0.04
    from advisor.measurement import Round

    quiet = [Round(i, 0, [], {}, {"other_cpu_frac": 0.01, "steal_frac": 0.0}) for i in range(10)]
    assert load_summary(quiet)["busy"] is False and load_summary(quiet)["note"] is None
    busy = quiet[:5] + [Round(i, 0, [], {}, {"other_cpu_frac": 0.6, "steal_frac": 0.1}) for i in range(5)]
    s = load_summary(busy)
    assert s["busy"] is True and s["busy_rounds"] == 5 and "5 of 10 rounds" in s["note"]


def test_allocator_is_pinned_once_and_every_block_counts_its_page_faults(tmp_path: Path) -> None:
    import platform

    from advisor.measurement.engine._allocator import steady_allocator

    out = run_engine(Variant("baseline", spin(0.0002)), [], settings=FAST, budget_s=10, lock_path=tmp_path / "l")
    assert out.allocator is not None and out.allocator == steady_allocator()  # idempotent: same state again
    if platform.libc_ver()[0] == "glibc":
        assert out.allocator["pinned"] is True and out.allocator["mmap_threshold_b"] == 32 * 2**20
    assert all(isinstance(b.minor_faults, int) and b.minor_faults >= 0 for r in out.rounds for b in r.blocks.values())
    off = run_engine(Variant("baseline", spin(0.0002)), [], settings=EngineSettings(
        block_s=0.002, warmup=1, min_rounds=6, max_rounds=6, steady_allocator=False), budget_s=10,
        lock_path=tmp_path / "l")  # fmt: skip
    assert off.allocator is None


def test_a_preloaded_allocator_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from advisor.measurement.engine import _allocator

    monkeypatch.setattr(_allocator, "_STATE", {})
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
    s = _allocator.steady_allocator()
    assert s["allocator"] == "jemalloc" and s["pinned"] is False and "left as it is" in s["note"]


def test_run_engine_takes_its_hooks_as_an_object_or_keywords(tmp_path) -> None:
    """EngineHooks(lock_path=...) and lock_path=... run the same; a wrong keyword is one ConstraintError."""
    from advisor import ConstraintError
    from advisor.measurement.engine import EngineHooks

    seen: list[int] = []
    hooks = EngineHooks(lock_path=tmp_path / "l", on_round=lambda r: seen.append(r.index))
    out = run_engine(Variant("baseline", spin(0.0002)), [], settings=FAST, budget_s=10, hooks=hooks)
    assert out.rounds and len(seen) == len(out.rounds)
    with pytest.raises(ConstraintError, match=r"run_engine\(\).*lock_pth.*lock_path"):
        run_engine(Variant("baseline", spin(0.0002)), [], settings=FAST, budget_s=10, lock_pth=tmp_path / "l")
