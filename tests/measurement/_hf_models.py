"""Small real models built from ``transformers`` configs (random weights, nothing downloaded)."""

from __future__ import annotations

from typing import Any

import torch


def settle_batchnorm(model: Any, shape: tuple[int, ...], batches: int = 4, seed: int = 0) -> Any:
    """Give BatchNorm layers the running statistics of random inputs, as training would.

    A randomly initialised deep CNN with fresh BatchNorm statistics (mean 0, var 1) lets activations
    vanish layer after layer (MobileNetV2's logits end near 1e-32): the outputs are degenerate and no
    fidelity figure means anything. Statistics from data make each layer's output unit-scaled.
    """
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(*shape, generator=g))
    return model.eval()


def tiny_bert(hidden: int = 32, layers: int = 2) -> Any:
    """A BertModel-like encoder (random weights)."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=2 * hidden,
                     vocab_size=100, max_position_embeddings=32)  # fmt: skip
    return BertModel(cfg).eval()


def tiny_resnet(num_labels: int = 10) -> Any:
    """A small ResNet classifier (``ResNetConfig``, basic blocks)."""
    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    cfg = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic", num_labels=num_labels)
    return settle_batchnorm(ResNetForImageClassification(cfg), (8, 3, 32, 32))


def tiny_mobilenet(num_labels: int = 10) -> Any:
    """A small MobileNetV2 classifier (``MobileNetV2Config``, depth multiplier 0.35, 32x32 images)."""
    from transformers import MobileNetV2Config, MobileNetV2ForImageClassification

    torch.manual_seed(0)
    cfg = MobileNetV2Config(image_size=32, depth_multiplier=0.35, num_labels=num_labels)
    return settle_batchnorm(MobileNetV2ForImageClassification(cfg), (8, 3, 32, 32))


def token_batch(n: int = 2, seq: int = 8, seed: int = 1) -> tuple[Any, ...]:
    """``(input_ids,)`` for :func:`tiny_bert`."""
    return (torch.randint(0, 100, (n, seq), generator=torch.Generator().manual_seed(seed)),)


def image_batch(n: int = 2, seed: int = 1) -> tuple[Any, ...]:
    """``(pixel_values,)`` of 32x32 RGB images."""
    return (torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed)),)


class SmallCNN(torch.nn.Module):
    """A plain torch CNN (Conv-BN-ReLU x2, pool, Linear) that FX can trace, for the torch.ao appliers."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
            torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        )  # fmt: skip
        self.head = torch.nn.Linear(32, 10)

    def forward(self, x: Any) -> Any:
        """Logits."""
        return self.head(self.features(x))


def resnet_factory() -> tuple[Any, tuple[Any, ...]]:
    """A model spec for the command line: ``tests.measurement._hf_models:resnet_factory``."""
    return tiny_resnet(), image_batch()
