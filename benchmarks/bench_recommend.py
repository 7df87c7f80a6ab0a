"""Benchmark: recommend() latency over the full catalog, and profiling a ~100M-parameter model.

Targets (issue 4): recommend() under 50 ms. Writes benchmarks/results/recommend.json.

    python benchmarks/bench_recommend.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from advisor import load_catalog
from advisor.profile.constraints import Constraints
from advisor.profile.hardware import detect_hardware
from advisor.profile.model import profile_model
from advisor.recommendation import recommend

RESULTS = Path(__file__).parent / "results"


class BertSized(nn.Module):
    """A BERT-base-sized encoder (~110M parameters) built locally: no weights are downloaded."""

    def __init__(self, vocab: int = 30522, dim: int = 768, layers: int = 12) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(512, dim)
        layer = nn.TransformerEncoderLayer(dim, 12, 4 * dim, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(tokens.shape[1]).unsqueeze(0)
        return self.head(self.encoder(self.emb(tokens) + self.pos(pos))[:, 0])


def stats(xs: list[float]) -> dict[str, float]:
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else [xs[0]] * 3
    return {"median_ms": 1000 * statistics.median(xs), "iqr_ms": 1000 * (q[2] - q[0]), "min_ms": 1000 * min(xs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    cat = load_catalog()
    hw = detect_hardware()
    torch.manual_seed(0)
    model = BertSized()
    tokens = torch.randint(0, 30522, (1, 128))
    t0 = time.perf_counter()
    prof = profile_model(model, tokens, name="bert-sized")
    profile_s = time.perf_counter() - t0
    c = Constraints(phase="inference", objective="energy")
    recommend(prof, hw, c, cat)  # warm-up
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        recommend(prof, hw, c, cat)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    detect_hardware()
    detect_s = time.perf_counter() - t0
    result = {
        "benchmark": "recommend",
        "n_techniques": len(cat),
        "repeats": args.repeats,
        "recommend": stats(times),
        "recommend_target_ms": 50,
        "meets_target": statistics.median(times) * 1000 < 50,
        "profile_model": {"n_parameters": prof.n_parameters, "forward_flops": prof.forward_flops, "seconds": profile_s},
        "detect_hardware_s": detect_s,
        "machine": platform.platform(),
        "cpu": hw.cpu_model,
        "torch": torch.__version__,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "recommend.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
