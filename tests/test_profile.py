"""Model and hardware profiles: introspection, files, specs, and every bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from advisor import ConstraintError, HardwareError, ProfileError
from advisor.profile.constraints import Constraints
from advisor.profile.hardware import (
    EnergySource,
    GpuInfo,
    HardwareProfile,
    check_rapl,
    detect_hardware,
    hardware_facts,
    hardware_fingerprint,
)
from advisor.profile.model import load_profile_file, profile_model
from advisor.profile.spec import load_spec

FIXTURE = Path(__file__).parent / "fixtures" / "user_model.py"


def test_cnn_profile_counts_params_flops_and_mix() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 30 * 30, 10))
    p = profile_model(model, torch.randn(2, 3, 32, 32))
    assert p.n_parameters == sum(x.numel() for x in model.parameters())
    assert p.family == "cnn" and p.has_batchnorm
    conv_flops = 2 * 2 * 8 * 30 * 30 * 3 * 3 * 3  # 2 FLOPs per MAC, batch 2
    lin_flops = 2 * 2 * 8 * 30 * 30 * 10
    assert p.forward_flops == conv_flops + lin_flops
    assert p.flop_share["convolution"] == pytest.approx(conv_flops / (conv_flops + lin_flops), abs=1e-3)
    assert p.dynamic_quantizable_share == pytest.approx(lin_flops / (conv_flops + lin_flops), abs=1e-3)
    assert p.bytes_by_dtype["float32"] >= 4 * p.n_parameters
    assert p.batch_size == 2


def test_transformer_profile_separates_attention_from_feedforward() -> None:
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4, 128, batch_first=True), 2)
    p = profile_model(enc, torch.randn(2, 16, 64))
    assert p.family == "transformer"
    assert p.flop_share["attention"] > 0.3 and p.flop_share["linear"] > 0.3
    # MultiheadAttention's projections are not plain nn.Linear: quantize_dynamic leaves them alone
    assert p.dynamic_quantizable_share == pytest.approx(p.flop_share["linear"], abs=1e-3)
    assert enc.training  # restored


def test_lstm_flops_are_counted() -> None:
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(32, 64, batch_first=True)
            self.fc = nn.Linear(64, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.rnn(x)[0][:, -1])

    p = profile_model(M(), torch.randn(2, 10, 32))
    assert p.family == "rnn"
    assert p.forward_flops == 2 * 4 * 64 * (32 + 64) * 20 + 2 * 2 * 64 * 5
    assert p.dynamic_quantizable_share == pytest.approx(1.0)


def test_forward_failure_is_a_profile_error() -> None:
    with pytest.raises(ProfileError, match=r"forward pass of Linear failed.*\(2, 7\)"):
        profile_model(nn.Linear(3, 2), torch.randn(2, 7))
    with pytest.raises(ProfileError, match=r"expected a torch\.nn\.Module"):
        profile_model("not a model", torch.randn(1))


def test_spec_from_file_and_module(monkeypatch) -> None:
    loaded = load_spec(f"{FIXTURE}:make_with_eval")
    assert isinstance(loaded.model, nn.Module) and loaded.eval_fn(loaded.model) == 50.0
    monkeypatch.syspath_prepend(str(FIXTURE.parent))
    assert load_spec("user_model:make").eval_fn is None


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("no_colon_here", "expected 'package.module:factory'"),
        ("tests/fixtures/missing.py:make", "no such file"),
        ("no_such_package_xyz:make", "cannot import module 'no_such_package_xyz'"),
        (f"{FIXTURE}:nope", "has no attribute 'nope'"),
        (f"{FIXTURE}:make_raises", "factory raised RuntimeError: checkpoint not found"),
        (f"{FIXTURE}:make_not_a_model", r"expected a ModelSpec.*got a str"),
        (f"{FIXTURE}:make_bad_tuple", r"item 2 of the tuple is a int"),
    ],
)
def test_bad_specs(spec: str, match: str) -> None:
    with pytest.raises(ProfileError, match=match):
        load_spec(spec)


def test_profile_file_roundtrip_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "bert.yaml"
    good.write_text("name: bert-base\nfamily: transformer\nn_parameters: 110000000\nphase: training\n")
    p = load_profile_file(good)
    assert (p.family, p.n_parameters, p.phase, p.source) == ("transformer", 110_000_000, "training", str(good))
    missing = tmp_path / "m.yaml"
    missing.write_text("family: cnn\n")
    with pytest.raises(ProfileError, match=r"m.yaml: field 'n_parameters': expected .*required.*got nothing"):
        load_profile_file(missing)
    typo = tmp_path / "t.yaml"
    typo.write_text("family: convnet\nn_parameters: 10\n")
    with pytest.raises(ProfileError, match=r"field 'family': expected one of .*'cnn'.*got 'convnet'"):
        load_profile_file(typo)
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile_file(tmp_path / "absent.yaml")


def test_constraints_reject_bad_values() -> None:
    with pytest.raises(ConstraintError, match="'objective': expected one of"):
        Constraints.make(objective="speed")
    with pytest.raises(ConstraintError, match="max_accuracy_drop_pp"):
        Constraints.make(max_accuracy_drop_pp=-1)
    assert Constraints.make(phase=None).phase == "inference"


def test_detect_hardware_never_raises_and_roundtrips(tmp_path: Path) -> None:
    hw = detect_hardware()
    assert hw.logical_cores >= 1 and hw.memory_gib > 0
    assert isinstance(hw.rapl.readable, bool) and hw.rapl.detail
    path = tmp_path / "hw.yaml"
    path.write_text(hw.to_yaml())
    again = HardwareProfile.from_file(path)
    assert again.cpu_features == hw.cpu_features and again.source == str(path)


def test_one_fingerprint_for_a_profile_its_stored_dict_and_a_campaign_node_record() -> None:
    from advisor.campaign import node_hardware

    gpu = GpuInfo(name="NVIDIA A100", memory_gib=40, compute_capability=(8, 0))
    hw = HardwareProfile(
        cpu_model="Xeon 8480",
        arch="x86_64",
        physical_cores=2,
        logical_cores=4,
        cpu_features=["avx2", "amx"],
        memory_gib=15.6,
        gpus=[gpu, gpu],
    )
    fp = hardware_fingerprint(hw)
    assert len(fp) == 12 and int(fp, 16) >= 0
    node = node_hardware(hw)
    assert fp == hardware_fingerprint(hw.model_dump(mode="json")) == hardware_fingerprint(node) == node["fingerprint"]
    assert set(hardware_facts(hw)) <= set(node)
    # not identity: memory, readable counters, where the file came from
    other = hw.model_copy(update={"memory_gib": 64.0, "rapl": EnergySource(readable=True, detail="ok"), "source": "x"})
    assert hardware_fingerprint(other) == fp
    # identity: the ISA, the core counts, the GPUs (their count too), the CPU model
    for change in (
        {"cpu_features": ["avx2"]},
        {"logical_cores": 8},
        {"physical_cores": 4},
        {"gpus": [gpu]},
        {"cpu_model": "EPYC 7B13"},
    ):
        assert hardware_fingerprint(hw.model_copy(update=change)) != fp, change


def test_hardware_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "hw.yaml"
    bad.write_text("physical_cores: zero\n")
    with pytest.raises(HardwareError, match="physical_cores"):
        HardwareProfile.from_file(bad)


def test_rapl_check_explains_missing_and_unreadable(tmp_path: Path) -> None:
    absent = check_rapl(tmp_path / "nothing")
    assert not absent.readable and "no RAPL zones" in absent.detail and absent.fix
    zone = tmp_path / "powercap" / "intel-rapl:0"
    zone.mkdir(parents=True)
    (zone / "energy_uj").write_text("123\n")
    assert check_rapl(tmp_path / "powercap").readable


def test_gpu_capabilities_from_compute_capability() -> None:
    hw = HardwareProfile(
        gpus=[{"name": "NVIDIA A100", "memory_gib": 40, "compute_capability": (8, 0)}],
        nvml={"readable": True, "detail": "fake"},
    )
    assert hw.has("tensor-cores") and hw.has("bf16") and hw.has("tf32") and not hw.has("fp8")
    assert hw.has("nvml-power-limit")
    v100 = HardwareProfile(gpus=[{"name": "V100", "memory_gib": 16, "compute_capability": (7, 0)}])
    assert v100.has("tensor-cores") and not v100.has("bf16")
