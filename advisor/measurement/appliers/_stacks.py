"""Variant ids (``a+b@setting``), stacks applied in a sensible order, and the stacks worth trying.

A stack is one measured variant: its techniques are applied one after the other, each to the
previous one's result, in this order whatever order the id names them in: structure (pruning),
layout, torch quantizers, reduced precision, ``torch.compile``, and last a runtime that takes the
model out of PyTorch (ONNX Runtime, OpenVINO). Which stacks are tried is decided by the catalog's
relations (:func:`candidate_stacks`).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterable, Iterator
from itertools import combinations
from typing import Any

from advisor.catalog import VariantId
from advisor.measurement.appliers.base import REGISTRY, Applied, NotApplicable

__all__ = ["RANK", "apply_stack", "apply_technique", "candidate_stacks", "compatible", "split_variant", "stack_id"]

# order of application (lower first); ids absent here rank with the context-only appliers
RANK: dict[str, int] = {
    "structured-filter-pruning": 0,
    "channels-last-memory-format": 1,
    "thread-tuning": 1,
    "post-training-dynamic-quantization": 2,
    "post-training-static-quantization": 2,
    "post-training-static-quantization@ignore-sensitive": 2,
    "torchao-int8-dynamic-quantization": 2,
    "torchao-int8-weight-only-quantization": 2,
    "pt2e-x86-static-quantization": 2,
    "pt2e-x86-static-quantization@ignore-sensitive": 2,
    "bfloat16": 3,
    "bfloat16@weights": 3,
    "fp16-half-precision": 3,
    "inference-mode-and-no-grad": 3,
    "torch-compile": 4,
    "bfloat16+torch-compile": 4,
    "onnx-runtime-inference": 5,
    "onnx-runtime-inference+int8": 5,
    "onnx-runtime-inference+static-int8": 5,
    "openvino-runtime": 5,
    "openvino-runtime@fp32": 5,
    "nncf-post-training-quantization": 5,
    "nncf-post-training-quantization@ignore-sensitive": 5,
    "nncf-post-training-quantization@accuracy-control": 5,
}
_DEFAULT_RANK = 3
# appliers that compile (or export) the model themselves: nothing may follow them
_SEALED = {
    "torchao-int8-dynamic-quantization",
    "torchao-int8-weight-only-quantization",
    "pt2e-x86-static-quantization",
    "pt2e-x86-static-quantization@ignore-sensitive",
    "bfloat16+torch-compile",
}
_CONTEXT_ONLY = {"bfloat16", "fp16-half-precision", "inference-mode-and-no-grad"}


def split_variant(variant_id: str) -> list[str]:
    """The registered parts of a variant id, e.g. ``a+onnx-runtime-inference+int8`` -> ``[a, onnx-...+int8]``.

    A part joined by ``+`` to the next one stays together when that joined id is registered itself
    (ORT-internal suffixes such as ``+int8``); ``@setting`` belongs to the part it follows.

    Raises:
        VariantIdError: The id breaks the grammar (:class:`advisor.VariantId`).
        NotApplicable: A part has no applier.
    """
    if variant_id in REGISTRY:
        return [variant_id]
    raw = [str(p) for p in VariantId.parse(variant_id).parts]
    parts: list[str] = []
    i = 0
    while i < len(raw):
        if i + 1 < len(raw) and f"{raw[i]}+{raw[i + 1]}" in REGISTRY:
            parts.append(f"{raw[i]}+{raw[i + 1]}")
            i += 2
            continue
        parts.append(raw[i])
        i += 1
    unknown = [p for p in parts if p not in REGISTRY]
    if unknown or not parts:
        raise NotApplicable(
            f"no applier for {', '.join(map(repr, unknown or [variant_id]))} in {variant_id!r}; "
            f"appliers exist for: {', '.join(sorted(REGISTRY))}"
        )
    return parts


def _base(part: str) -> str:
    return VariantId.parse(part).techniques[0]


def order_problem(parts: list[str]) -> str | None:
    """Why the parts cannot form one stack, or None (they are assumed in application order)."""
    if len({_base(p) for p in parts}) < len(parts):
        return "a technique appears twice (or with two settings) in the stack"
    runtimes = [p for p in parts if RANK.get(p, _DEFAULT_RANK) == 5]
    if len(runtimes) > 1:
        return f"{' and '.join(runtimes)} are separate runtimes: a stack runs in one of them"
    quantizers = [p for p in parts if RANK.get(p, _DEFAULT_RANK) == 2]
    if len(quantizers) > 1:
        return f"{' and '.join(quantizers)} are alternative quantizers: a model is quantized once"
    for i, p in enumerate(parts[:-1]):
        if p in _SEALED:
            return f"{p} compiles (or exports) the model itself: {', '.join(parts[i + 1 :])} cannot follow it"
    if runtimes:
        return _runtime_problem(parts, runtimes[0], quantizers)
    return None


def _runtime_problem(parts: list[str], runtime: str, quantizers: list[str]) -> str | None:
    """What cannot precede a runtime that takes the model out of PyTorch."""
    if quantizers:
        return (
            f"{quantizers[0]} makes PyTorch-only int8 modules that {runtime} cannot take; the runtimes "
            "quantize themselves (onnx-runtime-inference+int8/+static-int8, nncf-post-training-quantization)"
        )
    torch_only = ("torch-compile", "bfloat16@weights", "channels-last-memory-format", "thread-tuning")
    before = [p for p in parts[:-1] if p in _CONTEXT_ONLY or p in torch_only]
    if before:
        return f"{', '.join(before)} act(s) on the PyTorch model: they do not carry into {runtime}"
    return None


def ordered(parts: list[str]) -> list[str]:
    """The parts in application order (stable for equal ranks); ``openvino-runtime`` folds into NNCF's applier."""
    if "nncf-post-training-quantization" in parts:
        parts = [p for p in parts if _base(p) != "openvino-runtime"]
    return sorted(parts, key=lambda p: RANK.get(p, _DEFAULT_RANK))


def stack_id(parts: Iterable[str]) -> str:
    """The canonical variant id of a stack (parts in application order)."""
    return "+".join(ordered(list(parts)))


def _call(part: str, model: Any, inputs: tuple[Any, ...], calibration: Any, eval_fn: Any = None) -> Applied:
    fn = REGISTRY[part]
    params = inspect.signature(fn).parameters
    kwargs: dict[str, Any] = {}
    if calibration is not None and "calibration" in params:
        kwargs["calibration"] = calibration
    if eval_fn is not None and "eval_fn" in params:
        kwargs["eval_fn"] = eval_fn
    return fn(model, inputs, **kwargs)


def _chain(
    outer: Callable[[], contextlib.AbstractContextManager[Any]],
    inner: Callable[[], contextlib.AbstractContextManager[Any]],
) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    @contextlib.contextmanager
    def ctx() -> Iterator[None]:
        with outer(), inner():
            yield

    return ctx


def _step(prev: Applied, part: str, calibration: Any) -> Applied:
    """Apply ``part`` to the result of the previous steps."""
    if part == "torch-compile":
        from advisor.measurement.appliers.compiled import compile_module

        c, settings = compile_module(prev.model, prev.inputs, context=prev.context)
        return Applied(c, prev.inputs, prev.context, settings, eager=prev.model)
    nxt = _call(part, prev.model, prev.inputs, calibration)
    if part in _CONTEXT_ONLY:  # autocast/inference mode wrap the previous context (e.g. quantized fast path off)
        nxt.context = _chain(prev.context, nxt.context)
    return nxt


def apply_stack(
    parts: list[str], model: Any, inputs: tuple[Any, ...], *, calibration: Any = None, eval_fn: Any = None
) -> Applied:
    """Apply the parts in application order; the result's settings hold each step's settings.

    ``eval_fn`` reaches the appliers that take one (``nncf-post-training-quantization@accuracy-control``).

    Raises:
        NotApplicable: The parts cannot form one stack, or a step cannot apply (which one is named).
    """
    steps = ordered(parts)
    problem = order_problem(steps)
    if problem:
        raise NotApplicable(f"stack {'+'.join(parts)}: {problem}")
    if len(steps) == 1:
        return _call(steps[0], model, inputs, calibration, eval_fn)
    restores: list[Callable[[], None]] = []
    settings: dict[str, Any] = {"stack": steps, "order": "applied left to right"}
    warnings: list[str] = []
    cur: Applied | None = None
    try:
        for part in steps:
            try:
                cur = _call(part, model, inputs, calibration) if cur is None else _step(cur, part, calibration)
            except NotApplicable as exc:
                raise NotApplicable(f"stack step {part}: {exc}") from exc
            restores.append(cur.restore)
            settings[part] = cur.settings
            warnings += cur.warnings
            for key in ("calibration", "warning"):
                if key in cur.settings:
                    settings[key] = cur.settings[key]
    except BaseException:
        for r in reversed(restores):
            r()
        raise
    assert cur is not None

    def restore() -> None:
        for r in reversed(restores):
            r()

    return Applied(cur.model, cur.inputs, cur.context, settings, restore, eager=cur.eager, warnings=warnings)


def _ancestors(catalog: Any, tid: str) -> set[str]:
    """``tid`` and every technique it specialises (``parent`` and ``specializes`` relations), transitively."""
    seen: set[str] = set()
    todo = [tid]
    while todo:
        t = todo.pop()
        if t in seen or t not in catalog:
            seen.add(t)
            continue
        seen.add(t)
        entry = catalog.get(t)
        parent = getattr(entry, "parent", None)
        todo += [parent] if parent else []
        todo += [r.target for r in entry.relations if r.type == "specializes"]
    return seen


def _relations(catalog: Any, a: str, b: str) -> set[str]:
    out: set[str] = set()
    for x, y in ((a, b), (b, a)):
        if x in catalog:
            out |= {r.type for r in catalog.get(x).relations if r.target == y}
    return out


def compatible(catalog: Any, a: str, b: str) -> bool:
    """Whether the catalog says two techniques combine.

    They combine when ``complements`` or ``requires`` links them or any techniques they specialise,
    and no ``alternative-to`` or ``conflicts-with`` links the two themselves.
    """
    a, b = _base(a), _base(b)
    if a == b or _relations(catalog, a, b) & {"alternative-to", "conflicts-with"}:
        return False
    anc_a, anc_b = _ancestors(catalog, a), _ancestors(catalog, b)
    return any(_relations(catalog, x, y) & {"complements", "requires"} for x in anc_a for y in anc_b)


def candidate_stacks(ids: Iterable[str], *, catalog: Any = None, max_size: int = 2) -> list[str]:
    """The stacks of ``ids`` worth measuring: pairwise compatible in the catalog and in a workable order.

    Args:
        ids: Variant ids (catalog ids, optionally with ``@setting`` or ORT suffixes) that can be applied alone.
        catalog: The technique catalog (default: the packaged one).
        max_size: Largest stack (2 = pairs).

    Returns:
        Canonical stack ids (application order), e.g. ``structured-filter-pruning+post-training-static-quantization``.
    """
    if catalog is None:
        from advisor.catalog import load_catalog

        catalog = load_catalog(strict=False)  # a half-migrated entry must not stop a measurement
    usable = sorted({i for i in ids if i in REGISTRY})
    out: list[str] = []
    for size in range(2, max_size + 1):
        for combo in combinations(usable, size):
            steps = ordered(list(combo))
            if len(steps) < size or order_problem(steps):
                continue
            if all(compatible(catalog, x, y) for x, y in combinations(steps, 2)):
                out.append("+".join(steps))
    return out


def apply_technique(
    variant_id: str, model: Any, example_inputs: tuple[Any, ...], *, calibration_data: Any = None, eval_fn: Any = None
) -> Applied:
    """Apply one measured variant (a technique id, a ``+`` stack, optionally ``@setting``) to a copy of ``model``.

    This is the only entry point the measurement engine calls. A stack's techniques are applied
    in a fixed sensible order (pruning, layout, quantization, precision, compilation, runtime),
    whatever order the id names them in.

    Args:
        variant_id: E.g. ``torch-compile``, ``onnx-runtime-inference+int8``, ``openvino-runtime@fp32``,
            ``bfloat16+torch-compile``.
        model: The user's model (never modified).
        example_inputs: A batch of inputs, as a tuple of positional arguments.
        calibration_data: Optional iterable of input batches for static quantizers; without it they
            calibrate on ``example_inputs`` and their settings say ``calibration: example batch (optimistic)``.
        eval_fn: ``eval_fn(model) -> accuracy`` for appliers that use one (NNCF's accuracy control).

    Raises:
        NotApplicable: The variant cannot be applied here; the message says why.
    """
    return apply_stack(
        split_variant(variant_id), model, tuple(example_inputs), calibration=calibration_data, eval_fn=eval_fn
    )
