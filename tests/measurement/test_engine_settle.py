"""The engine's generic hooks that generation runs on: a caller's settle rule, essential set-ups, no overrun.

Fake variants (spin or sleep): no model, no timing decides a test except the overrun rule, which compares the
rounds' own wall times with the budget.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from unittest.mock import ANY

from advisor.measurement import EngineSettings, Round, Variant, VariantSpec, run_engine


def spin(seconds: float):
    def call() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    return call


def test_settle_retires_named_variants_and_the_group_stops_when_none_is_left(tmp_path: Path) -> None:
    torn: list[str] = []
    seen: list[list[str]] = []

    def settle(rounds: Sequence[Round], names: Sequence[str]) -> dict[str, str]:
        seen.append(list(names))
        n = len(rounds)
        gone = {"a": "a is settled"} if n == 2 and "a" in names else {}
        return {**gone, **(dict.fromkeys(names, "all settled") if n == 4 else {})}

    specs = [VariantSpec(n, lambda n=n: Variant(n, spin(0.0001), teardown=lambda: torn.append(n))) for n in "ab"]
    s = EngineSettings(block_s=0.001, warmup=1, min_rounds=100, max_rounds=50, target_rel=1.0)
    out = run_engine(Variant("baseline", spin(0.0001)), specs, settings=s, budget_s=30, lock_path=tmp_path / "l",
                     settle=settle)  # fmt: skip
    # the settle rule replaces the interval rule (target_rel=1.0 would stop at once) and min_rounds
    assert out.stopped_by == ["settled"] and len(out.rounds) == 4
    assert [set(r.blocks) for r in out.rounds] == [{"baseline", "a", "b"}] * 2 + [{"baseline", "b"}] * 2
    assert out.retired == {"a": "a is settled", "baseline": "all settled", "b": "all settled"}
    assert seen[2] == ["baseline", "b"] and sorted(torn) == ["a", "b"]  # retired variants are still torn down
    assert set(out.pilot_s) == {"baseline", "a", "b"} and all(t > 0 for t in out.pilot_s.values())
    assert out.setup_s is not None and out.setup_s >= 0


def test_without_settle_the_engine_rules_are_unchanged(tmp_path: Path) -> None:
    s = EngineSettings(block_s=0.001, warmup=1, min_rounds=6, max_rounds=9, target_rel=0.0)
    out = run_engine(Variant("baseline", spin(0.0001)), [VariantSpec("a", lambda: Variant("a", spin(0.0001)))],
                     settings=s, budget_s=30, lock_path=tmp_path / "l")  # fmt: skip
    assert out.stopped_by == ["max_rounds"] and len(out.rounds) == 9 and out.retired == {}


def test_essential_variants_are_set_up_after_the_budget_ran_out(tmp_path: Path) -> None:
    def slow_setup(name: str):
        def setup() -> Variant:
            time.sleep(0.05)
            return Variant(name, spin(0.0001))

        return setup

    specs = [VariantSpec("first", slow_setup("first")), VariantSpec("skipped", slow_setup("skipped")),
             VariantSpec("other-baseline", slow_setup("other-baseline"), essential=True)]  # fmt: skip
    s = EngineSettings(block_s=0.001, warmup=1, min_rounds=2, max_rounds=2)
    out = run_engine(Variant("baseline", spin(0.0001)), specs, settings=s, budget_s=0.01, lock_path=tmp_path / "l")
    assert out.setups["skipped"][0] == "skipped-budget"
    assert out.setups["skipped"][1] == "the 0.01 s budget ran out before its set-up"
    assert out.setups["other-baseline"][0] == "ok" and "other-baseline" in out.rounds[0].blocks
    # a caller that spent its whole budget before the engine (generation's probes) gets the reason, not "0 s"
    out = run_engine(Variant("baseline", spin(0.0001)), specs[1:], settings=s, budget_s=0.0, lock_path=tmp_path / "l")
    assert out.setups["skipped"] == ("skipped-budget", ANY, {})
    assert "spent before the rounds" in out.setups["skipped"][1]


def test_stop_before_overrun_ends_within_the_budget_and_the_default_after_it(tmp_path: Path) -> None:
    def sleeper(name: str) -> VariantSpec:
        return VariantSpec(name, lambda: Variant(name, lambda: time.sleep(0.04)))

    ends = {}
    for flag in (True, False):
        # target_rel=0: two identical sleeps give a tight interval fast on a quiet machine; only the budget stops
        s = EngineSettings(block_s=0.0, warmup=1, min_rounds=2, max_rounds=1000, stop_before_overrun=flag,
                           steady_allocator=False, target_rel=0.0)  # fmt: skip
        out = run_engine(Variant("baseline", lambda: time.sleep(0.04)), [sleeper("a")], settings=s, budget_s=1.0,
                         lock_path=tmp_path / "l")  # fmt: skip
        assert out.stopped_by == ["budget"] and len(out.rounds) >= 2
        ends[flag] = out.setup_s + sum(r.load["wall_s"] for r in out.rounds)
    # rounds of about 0.08 s: with the rule no round ends past the 1 s budget; without it the last one does
    assert ends[True] < 1.0 <= ends[False] + 0.02


def test_a_group_short_of_min_rounds_stops_at_the_hard_budget_factor(tmp_path: Path) -> None:
    s = EngineSettings(block_s=0.0, warmup=1, min_rounds=10_000, max_rounds=20_000, hard_budget_factor=2.0)
    t0 = time.perf_counter()
    out = run_engine(Variant("baseline", lambda: time.sleep(0.02)), [VariantSpec("a", lambda: Variant(
        "a", lambda: time.sleep(0.02)))], settings=s, budget_s=0.3, lock_path=tmp_path / "l")  # fmt: skip
    took = time.perf_counter() - t0
    assert out.stopped_by == ["budget"] and len(out.rounds) < 10_000
    assert 0.6 <= took < 5  # twice the budget, not 1.5x, and not min_rounds
