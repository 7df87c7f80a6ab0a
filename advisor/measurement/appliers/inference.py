"""Inference appliers: int8 dynamic quantization, bf16/fp16 autocast, channels-last, inference mode, threads."""

from __future__ import annotations

import contextlib
import copy
import gc
import warnings
from collections.abc import Iterator
from typing import Any

from advisor.measurement.appliers._bf16 import hardware_warning
from advisor.measurement.appliers.base import Applied, NotApplicable, model_device_type, no_grad_eval, register


def _torch() -> Any:
    import torch

    return torch


def _copy(model: Any) -> Any:
    return copy.deepcopy(model).eval()


DYNAMIC_DEPRECATION = (
    "torch.ao.quantization.quantize_dynamic is deprecated upstream in favour of torchao "
    "(torchao-int8-dynamic-quantization: Int8DynamicActivationInt8WeightConfig + torch.compile); kept while torch "
    "ships it because it measured faster on a transformer encoder (1.18x vs 1.01x on an Intel Xeon with AMX; "
    "torchao was faster on an MLP, 3.10x vs 2.52x: benchmarks/results/int8_routes.json)"
)


@register("post-training-dynamic-quantization")
def dynamic_int8(model: Any, inputs: tuple[Any, ...], *, per_channel: bool = False) -> Applied:
    """``torch.ao.quantization.quantize_dynamic`` on Linear/LSTM/GRU layers (int8 weights; deprecated upstream).

    The default qconfig quantizes each weight matrix with one scale (per tensor); ``per_channel`` gives
    Linear layers one scale per output row (``per_channel_dynamic_qconfig``), the standard recovery when
    per-tensor int8 weights lose too much.

    Raises:
        NotApplicable: No Linear/LSTM/GRU layer, or this torch no longer ships ``quantize_dynamic``.
    """
    torch = _torch()
    if not callable(getattr(getattr(torch.ao, "quantization", None), "quantize_dynamic", None)):
        raise NotApplicable(
            "this torch no longer ships torch.ao.quantization.quantize_dynamic: use "
            "torchao-int8-dynamic-quantization (torchao)"
        )
    nn = torch.nn
    kinds = {nn.Linear, nn.LSTM, nn.GRU, nn.LSTMCell, nn.RNNCell, nn.GRUCell}
    present = sorted({type(m).__name__ for m in model.modules() if type(m) in kinds})
    if not present:
        raise NotApplicable("the model has no Linear/LSTM/GRU layers (exact types)")
    engines = torch.backends.quantized.supported_engines
    engine = "x86" if "x86" in engines else ("fbgemm" if "fbgemm" in engines else engines[0])
    torch.backends.quantized.engine = engine
    with warnings.catch_warnings():  # torch deprecates quantized tensors in favour of torchao; still supported
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        # in place on our own copy: one fp32 copy alive at a time, not two
        ao = torch.ao.quantization
        spec: Any = {getattr(nn, k) for k in present}
        if per_channel:  # per-channel weights for Linear; the recurrent layers keep the default
            qcs = {"Linear": ao.per_channel_dynamic_qconfig}
            spec = {getattr(nn, k): qcs.get(k, ao.default_dynamic_qconfig) for k in present}
        q = torch.ao.quantization.quantize_dynamic(_copy(model), spec, dtype=torch.qint8, inplace=True)
    gc.collect()  # the fp32 weights the quantized layers replaced are freed before timing starts
    settings = {"layers": present, "dtype": "qint8", "engine": engine, "deprecation": DYNAMIC_DEPRECATION}
    settings["weights"] = "per channel (Linear)" if per_channel else "per tensor"
    context = no_grad_eval
    if any(isinstance(m, nn.MultiheadAttention) for m in q.modules()):
        # the fused transformer fast path reads `.weight` of the (now quantized) projections as a tensor
        context = _no_fastpath
        settings["transformer_fastpath"] = "disabled (quantized projections cannot take the fused path)"
    return Applied(q, inputs, context, settings)


@register("post-training-dynamic-quantization@per-channel")
def dynamic_int8_per_channel(model: Any, inputs: tuple[Any, ...]) -> Applied:
    """``quantize_dynamic`` with one int8 scale per output row of each Linear weight (a quality recovery)."""
    return dynamic_int8(model, inputs, per_channel=True)


@contextlib.contextmanager
def _no_fastpath() -> Iterator[None]:
    """``torch.no_grad()`` with the fused MultiheadAttention/TransformerEncoder fast path switched off."""
    torch = _torch()
    mha = getattr(torch.backends, "mha", None)
    old = mha.get_fastpath_enabled() if mha else None
    if mha:
        mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad():
            yield
    finally:
        if mha:
            mha.set_fastpath_enabled(old)


def autocast_context(dtype_name: str, device_type: str = "cpu") -> Any:
    """A context factory: ``torch.no_grad()`` and ``torch.autocast(device_type, dtype)``."""
    torch = _torch()
    dtype = getattr(torch, dtype_name)

    @contextlib.contextmanager
    def ctx() -> Iterator[None]:
        with torch.no_grad(), torch.autocast(device_type, dtype=dtype):
            yield

    return ctx


def _autocast_applied(model: Any, inputs: tuple[Any, ...], dtype_name: str) -> Applied:
    device = model_device_type(model)
    m = _copy(model)
    warning = hardware_warning(dtype_name, device)
    settings: dict[str, Any] = {"autocast": dtype_name, "device": device}
    if warning:
        settings["warning"] = warning
    return Applied(m, inputs, autocast_context(dtype_name, device), settings, warnings=[warning] if warning else [])


@register("bfloat16")
def bf16_autocast(model: Any, inputs: tuple[Any, ...]) -> Applied:
    """Run under ``torch.autocast(<the model's device>, dtype=torch.bfloat16)``."""
    return _autocast_applied(model, inputs, "bfloat16")


@register("fp16-half-precision")
def fp16_autocast(model: Any, inputs: tuple[Any, ...]) -> Applied:
    """Run under ``torch.autocast(<the model's device>, dtype=torch.float16)``."""
    return _autocast_applied(model, inputs, "float16")


@register("channels-last-memory-format")
def channels_last(model: Any, inputs: tuple[Any, ...]) -> Applied:
    """Convert the model and its 4-D inputs to ``torch.channels_last``."""
    torch = _torch()
    if not any(isinstance(m, torch.nn.Conv2d) for m in model.modules()):
        raise NotApplicable("the model has no Conv2d layers")
    if not any(isinstance(x, torch.Tensor) and x.dim() == 4 for x in inputs):
        raise NotApplicable("no 4-D (N, C, H, W) input to convert")
    m = _copy(model).to(memory_format=torch.channels_last)
    xs = tuple(
        x.to(memory_format=torch.channels_last) if isinstance(x, torch.Tensor) and x.dim() == 4 else x for x in inputs
    )
    return Applied(m, xs, no_grad_eval, {"memory_format": "channels_last"})


@register("inference-mode-and-no-grad")
def inference_mode(model: Any, inputs: tuple[Any, ...]) -> Applied:
    """``torch.inference_mode()`` instead of the baseline's ``torch.no_grad()``."""
    torch = _torch()
    return Applied(_copy(model), inputs, torch.inference_mode, {"context": "torch.inference_mode"})


@register("thread-tuning")
def threads(model: Any, inputs: tuple[Any, ...]) -> Applied:
    """One intra-op thread per physical core (hyper-threads off), instead of PyTorch's default."""
    import psutil

    torch = _torch()
    before = torch.get_num_threads()
    physical = psutil.cpu_count(logical=False) or 1
    if physical == before:
        raise NotApplicable(f"PyTorch already uses {before} threads, one per physical core")
    torch.set_num_threads(physical)
    return Applied(
        _copy(model),
        inputs,
        no_grad_eval,
        {"threads": physical, "default_threads": before},
        restore=lambda: torch.set_num_threads(before),
    )
