"""Training appliers: a technique id -> one training step on a *copy* of the model, with its own optimizer.

Each applier takes the user's model and a :class:`TrainSetup` (inputs, targets, loss, optimizer
factory) and returns a :class:`TrainStep`: a deep copy of the model, an optimizer of the same type
and settings as the baseline's, and ``step()``, which runs forward, loss, backward and the
optimizer step on the example batch. The user's model is never modified. An applier that cannot
apply raises :class:`~advisor.measurement.appliers.base.NotApplicable` with the reason.

These live in their own registry, :data:`TRAINING_REGISTRY`, apart from the inference
``REGISTRY``: the same catalog id would mean a different measurement in the two phases.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from advisor.measurement.appliers.base import NotApplicable, register

__all__ = [
    "ACCUMULATION_STEPS",
    "TRAINING_REGISTRY",
    "TrainSetup",
    "TrainStep",
    "TrainingApplier",
    "baseline_step",
    "checkpoint_blocks",
    "make_setup",
]

ACCUMULATION_STEPS = 4  # micro-batches per optimizer step for gradient accumulation (fewer if the batch is smaller)
DEFAULT_LOSS_SEED = 0  # seed of the random class labels of the default loss


@dataclass
class TrainSetup:
    """What every training step shares: data, loss and how to build the optimizer.

    Attributes:
        inputs: Positional inputs of ``model(*inputs)`` (the example batch).
        targets: Targets handed to ``loss`` (the user's, generated labels, or None).
        loss: ``loss(output, targets) -> scalar tensor``.
        loss_description: What the loss is, for the record.
        optimizer_fn: ``optimizer_fn(params) -> torch.optim.Optimizer``; None means ``SGD(lr=1e-3)``.
        batch_size: Leading dimension of the first tensor input (None if there is none).
    """

    inputs: tuple[Any, ...]
    targets: Any
    loss: Callable[[Any, Any], Any]
    loss_description: str
    optimizer_fn: Callable[[Iterable[Any]], Any] | None = None
    batch_size: int | None = None

    def make_optimizer(self, model: Any) -> Any:
        """An optimizer over the trainable parameters of ``model``."""
        import torch

        params = [p for p in model.parameters() if p.requires_grad]
        if self.optimizer_fn is None:
            return torch.optim.SGD(params, lr=1e-3)
        return self.optimizer_fn(params)


@dataclass
class TrainStep:
    """A ready-to-time training step.

    Attributes:
        model: The copy being trained (the user's model is never touched).
        optimizer: Its optimizer (same type and settings as the baseline's).
        step: Runs forward + loss + backward + optimizer step on the example batch; returns the
            detached loss of the whole batch (a 0-d tensor).
        settings: What the applier did (dtype, checkpointed modules, micro-batches, ...).
        micro_batches: Forward/backward passes per optimizer step (1 except for accumulation).
        samples_per_step: Samples one ``step()`` processes (the effective batch).
        restore: Undo process-wide changes after measuring.
    """

    model: Any
    optimizer: Any
    step: Callable[[], Any]
    settings: dict[str, Any] = field(default_factory=dict)
    micro_batches: int = 1
    samples_per_step: int | None = None
    restore: Callable[[], None] = lambda: None

    def __call__(self) -> Any:
        """Run one training step."""
        return self.step()


TrainingApplier = Callable[[Any, TrainSetup], TrainStep]
TRAINING_REGISTRY: dict[str, TrainingApplier] = {}


# --- setup -------------------------------------------------------------------------------------------
def _first_tensor_batch(inputs: tuple[Any, ...]) -> int | None:
    import torch

    for x in inputs:
        if isinstance(x, torch.Tensor) and x.dim() > 0:
            return int(x.shape[0])
    return None


def _looks_like_logits(out: Any) -> bool:
    import torch

    return isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[1] > 1 and out.is_floating_point()


def _mean_square(output: Any, _targets: Any) -> Any:
    from advisor.measurement.quality import first_tensor

    out = first_tensor(output)
    if out is None:
        raise TypeError(f"the model output ({type(output).__name__}) holds no tensor to build the default loss from")
    return out.float().pow(2).mean()


def _cross_entropy(output: Any, targets: Any) -> Any:
    import torch

    from advisor.measurement.quality import first_tensor

    return torch.nn.functional.cross_entropy(first_tensor(output).float(), targets)


def _mse(output: Any, targets: Any) -> Any:
    import torch

    from advisor.measurement.quality import first_tensor

    return torch.nn.functional.mse_loss(first_tensor(output).float(), targets.float())


def make_setup(
    model: Any,
    inputs: tuple[Any, ...],
    targets: Any = None,
    loss_fn: Callable[..., Any] | None = None,
    optimizer_fn: Callable[[Iterable[Any]], Any] | None = None,
) -> TrainSetup:
    """Resolve the loss and targets once, so every technique trains on the same thing.

    - ``loss_fn`` given: ``loss_fn(output, targets)``, or ``loss_fn(output)`` without targets.
    - ``targets`` without ``loss_fn``: cross-entropy for integer targets, else mean squared error.
    - Neither: when the output looks like logits (N x C floats, C > 1), cross-entropy against
      random class labels drawn once with seed 0; otherwise ``output.float().pow(2).mean()``.
      Either way the loss measures the *compute* of a training step, not learning.

    The output shape is read from one forward pass of ``model`` in eval mode under ``no_grad``
    (its train/eval mode is restored), only when neither loss nor targets are given.
    """
    import torch

    from advisor.measurement.quality import first_tensor

    batch = _first_tensor_batch(inputs)
    if loss_fn is not None:
        user = loss_fn
        if targets is None:
            return TrainSetup(inputs, None, lambda out, _t: user(out), "user loss_fn(output)", optimizer_fn, batch)
        return TrainSetup(inputs, targets, user, "user loss_fn(output, targets)", optimizer_fn, batch)
    if targets is not None:
        if isinstance(targets, torch.Tensor) and not targets.is_floating_point():
            return TrainSetup(
                inputs, targets, _cross_entropy, "cross-entropy against the given targets", optimizer_fn, batch
            )
        return TrainSetup(inputs, targets, _mse, "mean squared error against the given targets", optimizer_fn, batch)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            out = first_tensor(model(*inputs))
    finally:
        model.train(was_training)
    if _looks_like_logits(out):
        n, c = out.shape
        gen = torch.Generator().manual_seed(DEFAULT_LOSS_SEED)
        labels = torch.randint(0, c, (n,), generator=gen).to(out.device)
        desc = (
            f"default: cross-entropy against random labels of {c} classes (seed {DEFAULT_LOSS_SEED}); "
            "measures the compute of a step, not learning"
        )
        return TrainSetup(inputs, labels, _cross_entropy, desc, optimizer_fn, batch)
    desc = "default: output.float().pow(2).mean(); measures the compute of a step, not learning"
    return TrainSetup(inputs, None, _mean_square, desc, optimizer_fn, batch)


# --- the step ----------------------------------------------------------------------------------------
def _scalar(loss: Any) -> Any:
    import torch

    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        got = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise TypeError(f"the loss must be a scalar tensor, got {got}; reduce it (e.g. .mean()) in loss_fn")
    return loss.reshape(())


def _optimizer_settings(opt: Any) -> dict[str, Any]:
    keep = {k: v for k, v in opt.defaults.items() if isinstance(v, (int, float, bool, str, tuple)) or v is None}
    return {"optimizer": type(opt).__name__, "optimizer_settings": keep}


def _copy_for_training(model: Any) -> Any:
    return copy.deepcopy(model).train()


def _build(
    model: Any,
    setup: TrainSetup,
    settings: dict[str, Any],
    *,
    context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
    batches: list[tuple[tuple[Any, ...], Any, float]] | None = None,
    scaler: Any = None,
) -> TrainStep:
    """A step over ``batches`` of (inputs, targets, weight): one backward each, one optimizer step."""
    opt = setup.make_optimizer(model)
    parts = batches or [(setup.inputs, setup.targets, 1.0)]

    def step() -> Any:
        opt.zero_grad(set_to_none=True)
        total = None
        for xs, ys, weight in parts:
            with context():
                loss = _scalar(setup.loss(model(*xs), ys))
            weighted = loss * weight if weight != 1.0 else loss
            (scaler.scale(weighted) if scaler is not None else weighted).backward()
            total = weighted.detach() if total is None else total + weighted.detach()
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        return total

    settings = {**settings, **_optimizer_settings(opt), "loss": setup.loss_description}
    return TrainStep(model, opt, step, settings, len(parts), setup.batch_size)


def baseline_step(model: Any, setup: TrainSetup) -> TrainStep:
    """The unmodified training step (fp32, whole batch, no checkpointing) on a copy of ``model``."""
    return _build(_copy_for_training(model), setup, {})


def _device(model: Any) -> Any:
    import torch

    for p in model.parameters():
        return p.device
    return torch.device("cpu")


# --- mixed precision ---------------------------------------------------------------------------------
@register("mixed-precision-training", TRAINING_REGISTRY)
def mixed_precision(model: Any, setup: TrainSetup) -> TrainStep:
    """``torch.autocast``: bfloat16 on CPU; float16 with a ``GradScaler`` on CUDA. Master weights stay fp32."""
    import torch

    floats = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if floats and torch.float32 not in floats:
        raise NotApplicable(f"the parameters are already {sorted(str(d) for d in floats)}, not float32")
    device = _device(model)
    if device.type == "cpu":
        dtype, scaler = torch.bfloat16, None
        extra = {"cpu_capability": torch.backends.cpu.get_cpu_capability()}
    elif device.type == "cuda":
        dtype, scaler = torch.float16, torch.amp.GradScaler("cuda")
        extra = {"gpu": torch.cuda.get_device_name(device)}
    else:
        raise NotApplicable(f"autocast training is set up for cpu (bf16) and cuda (fp16), not {device.type!r}")
    settings = {
        "autocast": str(dtype).removeprefix("torch."),
        "device": device.type,
        "grad_scaler": scaler is not None,
        "master_weights": "float32",
        **extra,
    }
    ctx = functools.partial(torch.autocast, device.type, dtype=dtype)
    return _build(_copy_for_training(model), setup, settings, context=ctx, scaler=scaler)


# --- activation checkpointing ------------------------------------------------------------------------
def _has_params(module: Any) -> bool:
    return any(True for _ in module.parameters())


def checkpoint_blocks(model: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    """Make ``model`` recompute the activations of its blocks in backward, in place; say which.

    - An ``nn.Sequential`` of n >= 2 children runs through ``checkpoint_sequential`` in
      max(2, round(sqrt(n))) segments (only segment inputs are kept; torch runs the last
      segment normally).
    - Each block of an ``nn.ModuleList`` of >= 2 blocks with parameters runs through
      ``checkpoint`` (per-block, as transformer stacks do).

    The model itself is tried first, then its sub-modules breadth-first; the inside of a chosen
    container is not searched again. ``use_reentrant=False`` throughout.

    Returns:
        One record per wrapped container (module name, kind, block count, segments), and the
        modules whose ``forward`` was replaced (``del m.forward`` undoes it).
    """
    import torch
    from torch.utils.checkpoint import checkpoint, checkpoint_sequential

    nn = torch.nn
    patched: list[Any] = []
    done: list[dict[str, Any]] = []
    queue: list[tuple[str, Any]] = [("", model)]
    while queue:
        name, mod = queue.pop(0)
        children = list(mod.children())
        label = name or "<model>"
        if isinstance(mod, nn.Sequential) and len(children) >= 2 and _has_params(mod):
            segments = max(2, round(math.sqrt(len(children))))

            def seq_forward(x: Any, _m: Any = mod, _s: int = segments) -> Any:
                return checkpoint_sequential(_m, _s, x, use_reentrant=False)

            mod.forward = seq_forward
            patched.append(mod)
            done.append({"module": label, "kind": "sequential-segments", "blocks": len(children), "segments": segments})
            continue
        if isinstance(mod, nn.ModuleList) and sum(_has_params(c) for c in children) >= 2:
            for block in children:
                orig = block.forward

                def block_forward(*args: Any, _f: Any = orig, **kwargs: Any) -> Any:
                    return checkpoint(_f, *args, use_reentrant=False, **kwargs)

                block.forward = block_forward
                patched.append(block)
            done.append(
                {
                    "module": label,
                    "kind": "per-block",
                    "blocks": len(children),
                    "block_type": type(children[0]).__name__,
                }
            )
            continue
        queue.extend((f"{name}.{n}" if name else n, c) for n, c in mod.named_children())
    return done, patched


@register("activation-checkpointing", TRAINING_REGISTRY)
def activation_checkpointing(model: Any, setup: TrainSetup) -> TrainStep:
    """``torch.utils.checkpoint`` around the model's blocks (see :func:`checkpoint_blocks`)."""
    m = _copy_for_training(model)
    wrapped, patched = checkpoint_blocks(m)
    if not wrapped:
        raise NotApplicable(
            "the model has no nn.Sequential or nn.ModuleList of two or more blocks with parameters to "
            "checkpoint; hold the blocks in one, or call torch.utils.checkpoint.checkpoint in forward()"
        )
    ts = _build(m, setup, {"checkpointed": wrapped, "use_reentrant": False})

    def unpatch() -> None:  # the patched forwards refer to their modules: break the cycles so memory frees at once
        for mod in patched:
            vars(mod).pop("forward", None)

    ts.restore = unpatch
    return ts


# --- gradient accumulation ---------------------------------------------------------------------------
def _split(x: Any, n: int, k: int) -> list[Any]:
    """``k`` pieces of ``x`` along dim 0 if it is a batch of ``n``; else ``x`` for every piece."""
    import torch

    if isinstance(x, torch.Tensor) and x.dim() > 0 and x.shape[0] == n:
        return list(torch.tensor_split(x, k))
    if isinstance(x, (tuple, list)):
        parts = [_split(v, n, k) for v in x]
        return [type(x)(p[i] for p in parts) for i in range(k)]
    if isinstance(x, dict):
        parts_d = {key: _split(v, n, k) for key, v in x.items()}
        return [{key: p[i] for key, p in parts_d.items()} for i in range(k)]
    return [x] * k


@register("gradient-accumulation", TRAINING_REGISTRY)
def gradient_accumulation(model: Any, setup: TrainSetup) -> TrainStep:
    """Split the batch into k micro-batches, sum their gradients, step once: the same effective batch.

    Each micro-batch's loss is weighted by its share of the batch, which reproduces the whole
    batch's gradient exactly for mean-reduced losses.
    """
    import torch

    n = setup.batch_size
    if n is None:
        raise NotApplicable("no tensor input with a batch dimension to split into micro-batches")
    if n < 2:
        raise NotApplicable(f"the example batch has {n} sample; accumulation needs a batch of at least 2 to split")
    k = min(ACCUMULATION_STEPS, n)
    xs = _split(setup.inputs, n, k)
    ys = _split(setup.targets, n, k)
    sizes = [int(next(t for t in p if isinstance(t, torch.Tensor) and t.dim() > 0).shape[0]) for p in xs]
    batches = [(tuple(x), y, size / n) for x, y, size in zip(xs, ys, sizes, strict=True)]
    settings: dict[str, Any] = {"micro_batches": k, "micro_batch_sizes": sizes, "effective_batch": n}
    norms = torch.nn.modules.batchnorm._BatchNorm
    if any(isinstance(m, norms) for m in model.modules()):
        settings["note"] = f"BatchNorm statistics see micro-batches of {min(sizes)}-{max(sizes)}, not {n}"
    return _build(_copy_for_training(model), setup, settings, batches=batches)
