"""Profiles of the user's model, built three ways.

1. :func:`profile_model` introspects a live ``torch.nn.Module`` with example inputs: parameters,
   bytes by dtype, forward FLOPs (PyTorch's own ``FlopCounterMode``), the FLOP share of each
   layer kind, a family guess and the depth.
2. :func:`load_profile_file` reads a YAML/JSON description of a model that does not exist yet.
3. a live model from a factory: :func:`advisor.profile.spec.load_spec` (the one model-spec contract), then 1.

Every failure raises :class:`advisor.ProfileError` with what went wrong and how to fix it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advisor._errors import MissingExtraError, ProfileError
from advisor._pydantic import first_error
from advisor.catalog.schema import ARCHITECTURES as CATALOG_ARCHITECTURES

__all__ = [
    "ARCHITECTURES",
    "LAYER_KINDS",
    "ModelProfile",
    "load_profile_file",
    "profile_model",
]

LAYER_KINDS = ("convolution", "linear", "attention", "recurrent", "normalization", "embedding", "other")
Family = Literal["cnn", "transformer", "rnn", "mlp", "gnn", "llm", "unknown"]
# Architecture traits: the catalog's ``applicability.architectures`` vocabulary without ``any`` (one source).
ARCHITECTURES: tuple[str, ...] = tuple(a for a in CATALOG_ARCHITECTURES if a != "any")
Architecture = Literal[ARCHITECTURES]  # type: ignore[valid-type]
# A convolution share of the FLOPs above this makes a model "convolutional" (a ViT's patch embedding is ~1-3 %).
CONV_TRAIT_SHARE = 0.2
# Hugging Face ``config.model_type`` values of vision transformers.
VIT_MODEL_TYPES = frozenset(
    {"vit", "deit", "beit", "dinov2", "swin", "swinv2", "vit_mae", "vit_msn", "dinat", "levit", "mobilevit", "dpt"}
)


class ModelProfile(BaseModel):
    """What the advisor knows about a model.

    Attributes:
        name: A label for reports.
        family: ``cnn``, ``transformer``, ``rnn``, ``mlp``, ``gnn``, ``llm`` or ``unknown``.
        task: Free text such as ``classification``.
        phase: What the user does with it: ``training``, ``inference`` or ``both``.
        n_parameters: Number of parameters.
        size_bytes: Bytes of parameters and buffers. Units: bytes.
        bytes_by_dtype: ``size_bytes`` split by dtype name. Units: bytes.
        forward_flops: FLOPs of one forward pass on the example inputs (None if unknown).
        batch_size: Leading dimension of the example input, if known.
        flop_share: Share of forward FLOPs per layer kind (sums to 1 when FLOPs are known).
        layer_counts: Number of modules of each layer kind.
        dynamic_quantizable_share: FLOP share in modules ``quantize_dynamic`` converts by default
            (exactly ``nn.Linear``, ``nn.LSTM``, ``nn.GRU`` and the RNN cells).
        depth: Number of weight layers (convolution, linear, recurrent, embedding modules).
        has_batchnorm: Whether batch normalisation is present (it folds into convolutions).
        architectures: Architecture traits (``encoder-only``, ``generative-decoder``, ``encoder-decoder``,
            ``convolutional``, ``vision-transformer``, ``recurrent``, ``mlp``); empty when unknown.
        can_generate: Whether the model has a working ``generate`` method (autoregressive decoding).
        sequence_length: Tokens (or patches/time steps) per example in the example input, if it is a sequence.
        dtype: The dtype holding most of the parameter bytes (``float32``, ``bfloat16``, ...).
        device: Where the parameters are (``cpu``, ``cuda:0``, ...).
        source: ``module``, ``spec:...`` or the profile file's path.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "model"
    family: Family = "unknown"
    task: str = "unknown"
    phase: Literal["training", "inference", "both"] = "inference"
    n_parameters: int = Field(ge=0)
    size_bytes: int | None = Field(None, ge=0)
    bytes_by_dtype: dict[str, int] = Field(default_factory=dict)
    forward_flops: int | None = Field(None, ge=0)
    batch_size: int | None = Field(None, ge=1)
    flop_share: dict[str, float] = Field(default_factory=dict)
    layer_counts: dict[str, int] = Field(default_factory=dict)
    dynamic_quantizable_share: float | None = Field(None, ge=0, le=1)
    depth: int | None = Field(None, ge=0)
    has_batchnorm: bool = False
    architectures: list[Architecture] = Field(default_factory=list)
    can_generate: bool = False
    sequence_length: int | None = Field(None, ge=1)
    dtype: str | None = None
    device: str | None = None
    source: str = "file"

    def share(self, kind: str) -> float | None:
        """FLOP share of a layer kind, or None when FLOPs are unknown."""
        if not self.flop_share:
            return None
        return self.flop_share.get(kind, 0.0)

    def has_layers(self, kind: str) -> bool | None:
        """Whether the model has modules of this kind (None when unknown, e.g. from a file)."""
        if not self.layer_counts:
            return None
        return self.layer_counts.get(kind, 0) > 0

    def summary_lines(self) -> list[str]:
        """Human-readable lines."""
        lines = [
            f"model: {self.name} ({self.family}), {self.n_parameters:,} parameters",
        ]
        if self.size_bytes is not None:
            dt = ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in self.bytes_by_dtype.items())
            lines.append(f"size: {self.size_bytes / 2**20:.1f} MiB ({dt})")
        if self.forward_flops is not None:
            lines.append(f"forward FLOPs: {self.forward_flops:,} (batch {self.batch_size})")
        if self.flop_share:
            mix = ", ".join(f"{k} {v:.0%}" for k, v in sorted(self.flop_share.items(), key=lambda x: -x[1]) if v > 0)
            lines.append(f"FLOP mix: {mix}")
        if self.depth is not None:
            lines.append(f"weight layers: {self.depth}")
        if self.architectures:
            gen = ", has generate()" if self.can_generate else ""
            seq = f", sequence length {self.sequence_length}" if self.sequence_length else ""
            lines.append(f"architecture: {', '.join(self.architectures)}{gen}{seq}")
        if self.dtype or self.device:
            lines.append(f"dtype {self.dtype or '?'} on {self.device or '?'}")
        return lines

    def trait_text(self) -> str:
        """The traits in words for reasons, e.g. 'encoder-only' or 'convolutional' ('unknown' without any)."""
        return "/".join(self.architectures) if self.architectures else "unknown architecture"


# --- live module ----------------------------------------------------------------------------------
def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingExtraError("torch", "measure", "Profiling a live model") from None
    return torch


def _kind_of(module: Any, nn: Any) -> str | None:
    name = type(module).__name__.lower()
    if isinstance(module, nn.MultiheadAttention) or "attention" in name:
        return "attention"
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d)):
        return "convolution"
    if isinstance(module, (nn.RNNBase, nn.RNNCellBase)):
        return "recurrent"
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return "embedding"
    norms = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)
    if isinstance(module, norms) or "norm" in name:
        return "normalization"
    if isinstance(module, nn.Linear) or name in ("conv1d",):  # HF GPT-2 'Conv1D' is a linear layer
        return "linear"
    return None


def _as_tuple(example_inputs: Any) -> tuple[Any, ...]:
    return example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)


def _batch_size(inputs: tuple[Any, ...], torch: Any) -> int | None:
    for x in inputs:
        if isinstance(x, torch.Tensor) and x.dim() > 0:
            return int(x.shape[0])
    return None


def _guess_family(model: Any, counts: dict[str, int], n_params: int) -> str:
    names = " ".join(type(m).__name__.lower() for m in model.modules())
    if counts.get("attention") or "transformer" in names:
        causal = any(k in names for k in ("gpt", "llama", "causallm", "mistral", "opt", "decoder"))
        return "llm" if causal and n_params >= 1_000_000_000 else "transformer"
    if counts.get("recurrent"):
        return "rnn"
    if counts.get("convolution"):
        return "cnn"
    if counts.get("linear"):
        return "mlp"
    return "unknown"


def _rnn_hook(name: str, sink: dict[str, int], torch: Any) -> Callable[..., None]:
    """A forward hook that adds an RNN/LSTM/GRU's matmul FLOPs (2 per multiply-add) to ``sink``."""
    gates = {"LSTM": 4, "GRU": 3}

    def hook(module: Any, args: tuple[Any, ...], _out: Any) -> None:
        x = args[0]
        if not isinstance(x, torch.Tensor):  # PackedSequence: count its data rows
            x = x.data
            steps_batch = x.shape[0]
        else:
            steps_batch = x.shape[0] * x.shape[1] if x.dim() == 3 else x.shape[0]
        g = gates.get(module.mode, 1)
        dirs = 2 if module.bidirectional else 1
        h = module.hidden_size
        flops = 0
        for layer in range(module.num_layers):
            inp = module.input_size if layer == 0 else h * dirs
            flops += dirs * 2 * g * h * (inp + h) * steps_batch
        sink[name] = sink.get(name, 0) + flops

    return hook


def _count_params(model: Any) -> tuple[int, dict[str, int]]:
    """Number of parameters and bytes of parameters and buffers by dtype."""
    by_dtype: dict[str, int] = {}
    for t in [*model.parameters(), *model.buffers()]:
        key = str(t.dtype).replace("torch.", "")
        by_dtype[key] = by_dtype.get(key, 0) + t.numel() * t.element_size()
    return sum(p.numel() for p in model.parameters()), by_dtype


def _counted_forward(model: Any, inputs: tuple[Any, ...], torch: Any) -> tuple[dict[str, int], dict[str, int]]:
    """One forward pass under the FLOP counter: inclusive FLOPs per module path, plus RNN FLOPs by module name."""
    from torch.utils.flop_counter import FlopCounterMode

    nn = torch.nn
    rnn_flops: dict[str, int] = {}  # FlopCounterMode does not see inside aten::lstm/gru: count those here
    hooks = [
        m.register_forward_hook(_rnn_hook(n, rnn_flops, torch))
        for n, m in model.named_modules()
        if isinstance(m, nn.RNNBase)
    ]
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    fastpath = getattr(torch.backends, "mha", None)
    old_fast = fastpath.get_fastpath_enabled() if fastpath else None
    try:
        if fastpath:  # the fused transformer fast path hides its matmuls from the FLOP counter
            fastpath.set_fastpath_enabled(False)
        with torch.no_grad(), counter:
            model(*inputs)
    except Exception as exc:
        shapes = [tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__ for x in inputs]
        raise ProfileError(
            f"the forward pass of {type(model).__name__} failed on the example inputs {shapes}: "
            f"{type(exc).__name__}: {exc}. Pass inputs that model(*example_inputs) accepts."
        ) from exc
    finally:
        model.train(was_training)
        if fastpath:
            fastpath.set_fastpath_enabled(old_fast)
        for h in hooks:
            h.remove()
    totals = {k: sum(v.values()) for k, v in counter.get_flop_counts().items() if k != "Global"}
    return totals, rnn_flops


def _flop_shares(
    root: str, totals: dict[str, int], rnn_flops: dict[str, int], kinds: dict[str, str | None], dyn_names: set[str]
) -> tuple[int, dict[str, float], int]:
    """Total forward FLOPs, the share per layer kind, and the FLOPs in dynamically quantizable modules.

    ``totals`` are FlopCounterMode's inclusive totals per module path ("Root", "Root.layer1", ...).
    """
    for mod_name, flops in rnn_flops.items():
        parts = mod_name.split(".") if mod_name else []
        for i in range(len(parts) + 1):
            path = ".".join([root, *parts[:i]])
            totals[path] = totals.get(path, 0) + flops
    total = int(totals.get(root, 0))
    paths = {(root if n == "" else f"{root}.{n}"): n for n in kinds}
    share = dict.fromkeys(LAYER_KINDS, 0.0)
    dyn_flops = 0
    for path, flops in totals.items():
        if path not in paths:
            continue
        below = [p for p in totals if p.startswith(path + ".")]
        # nearest counted descendants only (containers such as ModuleList never run, so are absent)
        nearest = [d for d in below if not any(d.startswith(q + ".") for q in below if q != d)]
        own = flops - sum(totals[d] for d in nearest)
        if own <= 0:
            continue
        mod_name = paths[path]
        kind = kinds.get(mod_name)
        parts = mod_name.split(".")
        while kind is None and parts:  # loose ops go to the nearest typed ancestor (e.g. attention matmuls)
            parts = parts[:-1]
            kind = kinds.get(".".join(parts)) if parts else None
        share[kind or "other"] += own
        if mod_name in dyn_names:
            dyn_flops += own
    flop_share = {k: round(v / total, 4) for k, v in share.items()} if total else {}
    return total, flop_share, dyn_flops


def _can_generate(model: Any) -> bool:
    """Whether ``model.generate`` does autoregressive decoding (HF encoders have the method but cannot)."""
    if not callable(getattr(model, "generate", None)):
        return False
    check = getattr(model, "can_generate", None)
    if callable(check):
        try:
            return bool(check())
        except Exception:  # noqa: BLE001 - a custom can_generate that fails: trust the method's presence
            return True
    return True


def _sequence_length(inputs: tuple[Any, ...], torch: Any, has_attention_or_rnn: bool) -> int | None:
    """Tokens per example: dim 1 of integer ids (B, S) or of a float sequence (B, S, D)."""
    for x in inputs:
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            continue
        if x.dim() == 2 and not x.is_floating_point():
            return int(x.shape[1])
        if x.dim() == 3 and has_attention_or_rnn:
            return int(x.shape[1])
    return None


def _traits(model: Any, counts: dict[str, int], flop_share: dict[str, float], generates: bool) -> list[str]:
    """Architecture traits from the config (Hugging Face models) and the layer mix."""
    config = getattr(model, "config", None)
    names = " ".join(type(m).__name__.lower() for m in model.modules())
    attention = bool(counts.get("attention")) or "transformer" in names
    conv_share = flop_share.get("convolution") if flop_share else None
    has_conv = bool(counts.get("convolution"))
    vit = str(getattr(config, "model_type", "")).lower() in VIT_MODEL_TYPES or (
        attention and has_conv and conv_share is not None and conv_share < CONV_TRAIT_SHARE
    )
    out: list[str] = []
    if getattr(config, "is_encoder_decoder", False) or isinstance(model, _torch().nn.Transformer):
        out.append("encoder-decoder")
    elif attention and generates:
        out.append("generative-decoder")
    elif vit:
        out.append("vision-transformer")
    elif attention:
        out.append("encoder-only")
    if has_conv and not vit and (conv_share is None or conv_share >= CONV_TRAIT_SHARE):
        out.append("convolutional")
    if counts.get("recurrent"):
        out.append("recurrent")
    if not out and counts.get("linear"):
        out.append("mlp")
    return out


def _device_of(model: Any) -> str | None:
    for t in model.parameters():
        return str(t.device)
    return None


def profile_model(
    model: Any, example_inputs: Any, *, name: str | None = None, phase: str = "inference"
) -> ModelProfile:
    """Introspect a live model with one forward pass on the example inputs.

    The model is run in eval mode under ``torch.no_grad`` and restored to its previous mode.

    Args:
        model: A ``torch.nn.Module``.
        example_inputs: A tensor or tuple of tensors (positional arguments of ``forward``).
        name: A label; defaults to the model's class name.
        phase: ``training``, ``inference`` or ``both``.

    Raises:
        ProfileError: the object is not a module, or the forward pass fails.
    """
    torch = _torch()
    nn = torch.nn
    if not isinstance(model, nn.Module):
        raise ProfileError(f"expected a torch.nn.Module, got {type(model).__name__}")
    inputs = _as_tuple(example_inputs)
    n_params, by_dtype = _count_params(model)
    kinds = {n: _kind_of(m, nn) for n, m in model.named_modules()}
    counts = dict.fromkeys(LAYER_KINDS, 0)
    for k in kinds.values():
        if k:
            counts[k] += 1
    dyn_types = (nn.Linear, nn.LSTM, nn.GRU, nn.LSTMCell, nn.RNNCell, nn.GRUCell)
    dyn_names = {n for n, m in model.named_modules() if type(m) in dyn_types}
    totals, rnn_flops = _counted_forward(model, inputs, torch)
    total, flop_share, dyn_flops = _flop_shares(type(model).__name__, totals, rnn_flops, kinds, dyn_names)
    generates = _can_generate(model)
    return ModelProfile(
        name=name or type(model).__name__,
        family=_guess_family(model, counts, n_params),
        phase=phase,
        n_parameters=n_params,
        size_bytes=sum(by_dtype.values()),
        bytes_by_dtype=by_dtype,
        forward_flops=total or None,
        batch_size=_batch_size(inputs, torch),
        flop_share=flop_share,
        layer_counts={k: v for k, v in counts.items() if v},
        dynamic_quantizable_share=round(dyn_flops / total, 4) if total else None,
        depth=sum(counts[k] for k in ("convolution", "linear", "recurrent", "embedding")),
        has_batchnorm=any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()),
        architectures=_traits(model, counts, flop_share, generates),
        can_generate=generates,
        sequence_length=_sequence_length(inputs, torch, bool(counts["attention"] or counts["recurrent"])),
        dtype=max(by_dtype, key=by_dtype.get) if by_dtype else None,
        device=_device_of(model),
        source="module",
    )


# --- profile file -------------------------------------------------------------------------------
def load_profile_file(path: str | Path) -> ModelProfile:
    """Read a model profile from YAML or JSON (for a model that does not exist yet).

    Required: ``n_parameters``; useful: ``name``, ``family``, ``task``, ``phase``,
    ``forward_flops``, ``flop_share``.

    Raises:
        ProfileError: naming the file, the field, what was expected and what was found.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the profile file: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping of fields such as 'n_parameters', got {type(data).__name__}")
    data.setdefault("source", str(path))
    data.setdefault("name", path.stem)
    try:
        return ModelProfile.model_validate(data)
    except ValidationError as exc:
        e = first_error(exc)
        raise ProfileError(
            f"{path}: field {e.field!r}: expected {e.expected}, got {e.got}. "
            "A minimal profile is: `name: my-model`, `family: transformer`, `n_parameters: 110000000`."
        ) from None
