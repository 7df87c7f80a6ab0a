"""NNCF accuracy control with the user's eval_fn, on the trained digits CNN: it runs, is gated, and says so."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("nncf")
pytest.importorskip("openvino")

from advisor.examples import digits_model
from advisor.measurement import ResultStore
from advisor.measurement.quality import judge_quality
from advisor.tuning import measure

AC = "nncf-post-training-quantization@accuracy-control"


@pytest.fixture(scope="module")
def digits():
    return digits_model()


@pytest.mark.slow
def test_accuracy_control_quantizes_within_the_drop_and_is_verified(digits, tmp_path) -> None:
    model, x, eval_fn = digits
    run = measure(model, x, [AC], eval_fn=eval_fn, budget_s=4, store=ResultStore(tmp_path / "r.sqlite"), progress=False)
    r = run.results[0]
    assert r.status == "ok", r.reason
    assert r.settings["accuracy_control"].startswith("nncf.quantize_with_accuracy_control(max_drop=1")
    assert r.settings["fake_quantize_nodes"] >= 1  # still int8 where NNCF kept it
    assert r.quality.accuracy_change is not None and r.quality.accuracy_change >= -1.0
    assert judge_quality(r.quality).status == "verified"


def test_without_eval_fn_accuracy_control_is_not_applicable_with_the_reason(digits, tmp_path) -> None:
    model, x, _ = digits
    run = measure(model, x, [AC], budget_s=1, store=ResultStore(tmp_path / "r.sqlite"), progress=False)
    r = run.results[0]
    assert r.status == "not-applicable" and "eval_fn" in r.reason
